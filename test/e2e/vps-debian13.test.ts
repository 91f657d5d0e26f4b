// A fresh Debian 13 VPS with systemd as PID 1 (compose v2), two apps, one with a stateful
// service: bootstrap, releases under load, a reboot after which everything comes back by itself
// and `hoist status` waits for it to be healthy (test/harness/vps-life.ts says what is proven).
import { vpsLife } from '../harness/vps-life.ts';

vpsLife({ os: 'debian13', release: 'debian 13', compose: 'v2' });
