// The in-process floor hoist is measured against: plain JavaScript (no tsx, no TypeScript, no
// config), one Node process, one ssh2 connection per host with the host key checked, and one
// trivial command (`true`) per task of hoist's release, the commands of one host in order, all
// hosts at once. It is what any SSH tool built on Node and ssh2 cannot go below on this machine.
//
//   node scripts/bench/floor.mjs CONFIG.json
//   CONFIG: { user, keyPath, commands, hosts: [{ name, host, port, hostKey }] }  (hostKey: base64 blob)
// Exits 0 when every command on every host exited 0; prints one line per failure otherwise.
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const privateKey = readFileSync(config.keyPath);
const TIMEOUT_MS = 150_000;

function connect(h) {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client
      .on('ready', () => resolve(client))
      .on('error', reject)
      .connect({
        host: h.host,
        port: h.port,
        username: config.user,
        privateKey,
        readyTimeout: TIMEOUT_MS,
        // As hoist does: offer only the host key type that is pinned, and check it.
        algorithms: { serverHostKey: ['ssh-ed25519'] },
        hostVerifier: (key) => Buffer.compare(key, Buffer.from(h.hostKey, 'base64')) === 0,
      });
  });
}

function run(client, command) {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      stream.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command}: exit ${code}`))));
      stream.resume();
      stream.stderr.resume();
    });
  });
}

async function host(h) {
  const client = await connect(h);
  try {
    for (let i = 0; i < config.commands; i++) await run(client, 'true');
  } finally {
    client.end();
  }
}

const timer = setTimeout(() => {
  console.error(`floor: not done after ${TIMEOUT_MS / 1000}s`);
  process.exit(2);
}, TIMEOUT_MS);
const results = await Promise.allSettled(config.hosts.map(host));
clearTimeout(timer);
const failed = results.map((r, i) => (r.status === 'rejected' ? `${config.hosts[i].name}: ${r.reason?.message ?? r.reason}` : null)).filter(Boolean);
for (const f of failed) console.error(`floor: ${f}`);
process.exitCode = failed.length ? 1 : 0;
