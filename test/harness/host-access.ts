// Who can log in to a test host and as what, as text: sshd's password and root settings, the
// deploy user, sudoers and sshd drop-ins. Equal text, equal access: the bootstrap tests compare it
// before and after a failed run (nothing may be left half done, nobody locked out).
import * as assert from 'uvu/assert';
import type { TestHost } from './testbed.ts';

export async function loginAccess(host: TestHost): Promise<string> {
  const r = await host.sh(`{
/usr/sbin/sshd -T | grep -Ei '^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication) '
id deploy 2>&1 | sed 's/^/id /'
ls /etc/sudoers.d/ /etc/ssh/sshd_config.d/ 2>&1
} | sort`);
  assert.is(r.code, 0, r.stderr);
  return r.stdout;
}
