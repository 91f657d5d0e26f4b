// A webhook receiver in the test process for NOTIFY_URL: an HTTP server on the Docker bridge's
// gateway address (this machine as the test hosts see it, so the hosts' watchdog reaches it, and
// hoist here too). It keeps every POST it got; `stop()` closes it, so "the receiver is down" is a
// port that refuses. The URL's path holds a random token: a test can check it never leaks.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dockerGateway } from './acme-ca.ts';

export interface Received {
  path: string;
  contentType: string;
  body: string;
  /** The body parsed as JSON (null when it is not JSON). */
  json: Record<string, unknown> | null;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  readonly token = `hook${randomBytes(12).toString('hex')}`;
  private server: Server | null = null;
  url = '';

  async start(): Promise<this> {
    const host = dockerGateway();
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        let json: Record<string, unknown> | null = null;
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          json = null;
        }
        this.received.push({ path: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body, json });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, host, () => resolve());
    });
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}/${this.token}`;
    return this;
  }

  /** The messages of a kind ('run' or 'alert', json format's `hoist` field). */
  of(kind: 'run' | 'alert'): Received[] {
    return this.received.filter((r) => r.json?.hoist === kind);
  }

  clear(): void {
    this.received.length = 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
