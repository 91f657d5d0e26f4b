// A fresh Debian 12 VPS with systemd as PID 1 (compose v1, docker-compose 1.29), two apps, one
// with a stateful service: bootstrap, releases under load, a reboot after which everything comes
// back by itself and `hoist status` waits for it to be healthy (test/harness/vps-life.ts says
// what is proven).
import { vpsLife } from '../harness/vps-life.ts';

vpsLife({ os: 'debian12', release: 'debian 12', compose: 'v1' });
