// app-remove's command lines as data, compared exactly (Kamal-style), plus the two pure file
// edits it shares with the tasks that wrote them: the Caddyfile without hoist's import line, and
// ~/.ssh/config without the app's block, every other byte kept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withSitesImport, withoutSitesImport } from '../../tasks/caddy-reload/caddyfile.ts';
import { withSshBlock, withoutSshBlock } from '../../tasks/deploy-key/ssh-config-block.ts';
import { crontabCommands, removeAppDir, removeDocker, removeGitUrlSections, removeKeyFiles } from '../../tasks/app-remove/commands.ts';

test('removeDocker: each name still there, stopping at the first Docker refuses', () => {
  assert.is(
    removeDocker('container', ['aaa', 'bbb']).line,
    'for x in aaa bbb; do docker container inspect "$x" >/dev/null 2>&1 || continue; docker container rm -f "$x" >/dev/null || exit 1; done',
  );
  assert.is(removeDocker('image', ['hoist-web-web:20240101000000-0123456789ab']).line, 'for x in hoist-web-web:20240101000000-0123456789ab; do docker image inspect "$x" >/dev/null 2>&1 || continue; docker image rm "$x" >/dev/null || exit 1; done');
  assert.is(removeDocker('volume', ['web-blue_data']).line, 'for x in web-blue_data; do docker volume inspect "$x" >/dev/null 2>&1 || continue; docker volume rm "$x" >/dev/null || exit 1; done');
  assert.is(removeDocker('network', ['eee']).line, 'for x in eee; do docker network inspect "$x" >/dev/null 2>&1 || continue; docker network rm "$x" >/dev/null || exit 1; done');
});

test('removeAppDir: from the deploy user\'s home, a real folder only; ~/apps once empty', () => {
  assert.is(
    removeAppDir('web', 'deploy').line,
    `home=$(getent passwd deploy | cut -d: -f6) && [ -n "$home" ] && cd "$home" || exit 97
if [ -L apps ] || [ -L apps/web ]; then echo '~deploy/apps/web or ~deploy/apps is a symbolic link: not removed' >&2; exit 3; fi
rm -rf -- apps/web && { rmdir apps 2>/dev/null || true; }`,
  );
  assert.throws(() => removeAppDir('../x', 'deploy'), /not an app name/);
});

test('key files, git URL sections, crontab', () => {
  assert.is(removeKeyFiles('.ssh/hoist_web_deploy').line, 'cd && rm -f -- .ssh/hoist_web_deploy .ssh/hoist_web_deploy.pub .ssh/hoist_web_deploy.github');
  assert.is(
    removeGitUrlSections(['git@hoist-web-repo:acme/web.git', 'ssh://git@hoist-web-repo/acme/web.git']).line,
    'cd && for s in url.git@hoist-web-repo:acme/web.git url.ssh://git@hoist-web-repo/acme/web.git; do if git config --global --get-all "$s.insteadof" >/dev/null 2>&1; then git config --global --remove-section "$s" || exit 1; fi; done',
  );
  assert.is(crontabCommands.install.line, 'crontab -');
  assert.is(crontabCommands.remove.line, 'crontab -r');
});

test('withoutSitesImport undoes withSitesImport byte for byte; other lines and imports stay', () => {
  const debian = ':80 {\n\troot * /usr/share/caddy\n\tfile_server\n}\n';
  assert.is(withoutSitesImport(withSitesImport(debian)), debian);
  assert.is(withoutSitesImport(withSitesImport('')), '');
  const mine = `import /etc/caddy/mine/*.caddy\n${debian}  import /etc/caddy/sites/*.caddy  \r\n# import /etc/caddy/sites/*.caddy\n`;
  assert.is(withoutSitesImport(mine), `import /etc/caddy/mine/*.caddy\n${debian}# import /etc/caddy/sites/*.caddy\n`);
  assert.is(withoutSitesImport('a\nimport /etc/caddy/sites/*.caddy'), 'a\n');
});

test('withoutSshBlock takes the app\'s block only; web-api\'s and the user\'s lines stay', () => {
  const mine = 'Host mine\n  HostName example.com\n';
  const both = withSshBlock(withSshBlock(mine, 'web-api', ['Host hoist-web-api-repo']), 'web', ['Host hoist-web-repo']);
  assert.is(withoutSshBlock(both, 'web'), withSshBlock(mine, 'web-api', ['Host hoist-web-api-repo']));
  assert.is(withoutSshBlock(withSshBlock(mine, 'web', ['Host hoist-web-repo']), 'web'), mine);
  assert.is(withoutSshBlock(mine.trimEnd(), 'web'), mine.trimEnd(), 'no block: the file as it is');
  assert.throws(() => withoutSshBlock('# END hoist:web\n', 'web'), /damaged/);
});

test.run();
