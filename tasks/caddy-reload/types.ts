// caddy-reload's data: what is wanted (from settings, local), what the host has (one probe), the
// steps between them, and its error. Kept apart so each part can be read and tested alone.
import type { SlotPorts } from '../../lib/release/app-ports.ts';
import { HoistError } from '../../lib/errors.ts';
import type { Step } from '../../lib/engine/task.ts';
import type { AcmeOptions, CaddyTls } from './site-block.ts';

export interface CaddyWanted {
  app: string;
  /** Whose home holds the active-slot state file. */
  deployUser: string;
  domains: string[];
  tls: CaddyTls;
  extra: string[];
  sitePath: string;
  /** CADDY_TLS=auto with an ACME_* key set: which CA, whose contact, which root (path on the host). */
  acme?: AcmeOptions;
  /** ACME_CA_ROOT's content, uploaded to acme.caRootPath. */
  caRoot?: string;
}

/** The files and process as the probe read them (no port: rollback needs none). */
export interface CaddyHostState {
  /** The app's site file; null when it does not exist. */
  site: string | null;
  /** The main Caddyfile; null when it does not exist. */
  caddyfile: string | null;
  /** Its mode (octal digits) and owner (user:group), kept when hoist writes it. */
  caddyfileMode: string;
  caddyfileOwner: string;
  running: boolean;
  /** The active-slot state file, trimmed; null when missing. */
  activeSlot: string | null;
  /** apps/APP/ports on the host, parsed; null when absent. */
  recordedPorts: SlotPorts | null;
  /** The app's uploaded ACME_CA_ROOT file; null when missing. */
  caRoot: string | null;
}

export interface CaddyFact extends CaddyHostState {
  /** The loopback port the app answers on now (the port source, asked at probe time). */
  port: number;
}

export type CaddyStep = Step &
  (
    | { kind: 'dns' }
    | { kind: 'ca-root'; content: string }
    | { kind: 'site'; content: string }
    | { kind: 'import'; content: string }
    | { kind: 'validate-reload' }
  );

export class CaddyError extends HoistError {}
