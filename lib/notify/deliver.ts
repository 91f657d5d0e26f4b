// One POST to NOTIFY_URL, retried with backoff while the failure may pass (no answer, a 5xx, a
// 429), within a bound: at most ATTEMPTS tries of at most ATTEMPT_MS each, so a receiver that is
// down costs a run seconds, never its outcome. The result says how it went, in words that never
// hold the URL (it is a secret: a Slack or Discord webhook URL is its own credential).
import { redact } from '../secrets/redact.ts';

export interface Delivery {
  ok: boolean;
  attempts: number;
  /** Why the last attempt failed (null when delivered). */
  error: string | null;
}

export interface DeliverOptions {
  attempts?: number;
  attemptMs?: number;
  /** Wait before retry n (1-based): backoff with jitter. */
  backoffMs?: (n: number) => number;
}

export const ATTEMPTS = 3;
export const ATTEMPT_MS = 5000;
const backoff = (n: number) => 500 * 2 ** (n - 1) + Math.floor(Math.random() * 250);

/**
 * fetch refuses a URL with user:password in it (ntfy and other receivers take basic auth so), which
 * curl, the hosts' watchdog, sends as an Authorization header: the same here.
 */
export function withoutUserinfo(url: string): { url: string; headers: Record<string, string> } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url, headers: {} };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.toString(), headers: { authorization: `Basic ${basic}` } };
}

export async function deliver(url: string, body: string, opts: DeliverOptions = {}): Promise<Delivery> {
  const attempts = opts.attempts ?? ATTEMPTS;
  const target = withoutUserinfo(url);
  let error = 'not tried';
  for (let n = 1; n <= attempts; n++) {
    let retry = true;
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'hoist', ...target.headers },
        body,
        signal: AbortSignal.timeout(opts.attemptMs ?? ATTEMPT_MS),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: n, error: null };
      error = `the receiver answered HTTP ${res.status}`;
      retry = res.status >= 500 || res.status === 429;
    } catch (e) {
      error = failureText(e);
    }
    if (!retry || n === attempts) return { ok: false, attempts: n, error: redact(error) };
    await new Promise((r) => setTimeout(r, (opts.backoffMs ?? backoff)(n)));
  }
  return { ok: false, attempts, error: redact(error) };
}

/** fetch's "fetch failed" says nothing: its cause does (ECONNREFUSED, a timeout). */
function failureText(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer within the time allowed';
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `could not reach the receiver (${cause})` : `could not reach the receiver (${err.message})`;
}
