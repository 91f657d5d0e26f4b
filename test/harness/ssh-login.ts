// Tries a login the way an operator (or an attacker) would, to assert what sshd allows: by key
// or by password, and optionally runs one command. Host keys are not checked here: the test bed
// made the host and these calls only probe what it accepts.
import ssh2 from 'ssh2';

export interface LoginAttempt {
  port: number;
  user: string;
  privateKey?: Buffer;
  /** Of an encrypted privateKey. */
  passphrase?: string;
  password?: string;
  command?: string;
}

export async function tryLogin(a: LoginAttempt): Promise<{ ok: boolean; output: string; error?: string }> {
  const client = new ssh2.Client();
  return new Promise((resolve) => {
    const timer = setTimeout(() => done({ ok: false, output: '', error: 'timeout' }), 15_000);
    const done = (r: { ok: boolean; output: string; error?: string }) => {
      clearTimeout(timer);
      client.end();
      resolve(r);
    };
    client.on('error', (e) => done({ ok: false, output: '', error: e.message }));
    client.on('ready', () => {
      if (!a.command) return done({ ok: true, output: '' });
      client.exec(a.command, (err, stream) => {
        if (err) return done({ ok: false, output: '', error: err.message });
        let out = '';
        stream.on('data', (d: Buffer) => (out += d));
        stream.stderr.on('data', (d: Buffer) => (out += d));
        stream.on('close', (code: number) => done({ ok: code === 0, output: out }));
      });
    });
    client.connect({
      host: '127.0.0.1',
      port: a.port,
      username: a.user,
      ...(a.privateKey ? { privateKey: a.privateKey } : {}),
      ...(a.passphrase ? { passphrase: a.passphrase } : {}),
      ...(a.password ? { password: a.password, tryKeyboard: false } : {}),
      readyTimeout: 10_000,
      hostVerifier: () => true,
    });
  });
}
