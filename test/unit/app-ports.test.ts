// Ports of apps sharing a host: chosen once, recorded, kept; BLUE_PORT/GREEN_PORT honoured; a
// port held by anything else refused before anything starts, naming who holds it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkPortFree, choosePorts, parsePortsRecord, PortConflictError, portsRecord, type PortHolder, type PortView } from '../../lib/release/app-ports.ts';

function view(v: Partial<PortView> = {}): PortView {
  return { app: 'api', explicit: null, recorded: null, others: {}, listening: new Map(), ownProjects: new Map(), ...v };
}

function conflict(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PortConflictError, String(e));
    return (e as Error).message;
  }
  return assert.unreachable('expected a PortConflictError') as never;
}

test('the record reads back what it wrote; anything else is no record', () => {
  assert.equal(parsePortsRecord(portsRecord({ blue: 18003, green: 18004 })), { blue: 18003, green: 18004 });
  assert.equal(parsePortsRecord('blue 18003;green 18004;'), { blue: 18003, green: 18004 }, 'the probe joins lines with ;');
  for (const bad of [null, '', 'blue 18003\n', 'blue 18003\ngreen 18003\n', 'blue 0\ngreen 1\n', 'blue 70000\ngreen 18004\n', 'blue x\ngreen y\n']) {
    assert.is(parsePortsRecord(bad), null, String(bad));
  }
});

test('the first app gets 18001/18002; the next ones the next free pairs, skipping what listens', () => {
  assert.equal(choosePorts(view()), { blue: 18001, green: 18002 });
  assert.equal(choosePorts(view({ others: { web: { blue: 18001, green: 18002 } } })), { blue: 18003, green: 18004 });
  const proc: PortHolder = { kind: 'process', uid: 0, user: 'root' };
  assert.equal(
    choosePorts(view({ others: { web: { blue: 18001, green: 18002 } }, listening: new Map([[18004, proc]]) })),
    { blue: 18005, green: 18006 },
    'a pair with one taken port is skipped whole',
  );
  // A hand-picked pair of another app off the usual grid is respected too.
  assert.equal(choosePorts(view({ others: { odd: { blue: 18002, green: 18009 } } })), { blue: 18003, green: 18004 });
});

test('a recorded pair is kept, even if other pairs became free since', () => {
  assert.equal(choosePorts(view({ recorded: { blue: 18007, green: 18008 } })), { blue: 18007, green: 18008 });
});

test('BLUE_PORT/GREEN_PORT win over the record; refused when another app records them', () => {
  assert.equal(choosePorts(view({ explicit: { blue: 19000, green: 19001 }, recorded: { blue: 18001, green: 18002 } })), { blue: 19000, green: 19001 });
  const msg = conflict(() => choosePorts(view({ explicit: { blue: 18001, green: 19001 }, others: { web: { blue: 18001, green: 18002 } } })));
  assert.match(msg, /BLUE_PORT=18001 is the port of app web on this host \(apps\/web\/ports\)/);
});

test('no free pair in the range: refused with the fix', () => {
  const listening = new Map<number, PortHolder>();
  for (let p = 18001; p <= 18999; p++) listening.set(p, { kind: 'process', uid: 1000 });
  assert.match(conflict(() => choosePorts(view({ listening }))), /no two free loopback ports between 18001 and 18999.*set BLUE_PORT and GREEN_PORT/);
});

test('checkPortFree: names the container or the process that holds the slot port; the slot itself is fine', () => {
  const listening = new Map<number, PortHolder>([
    [18001, { kind: 'container', name: 'other-blue-web-1' }],
    [18002, { kind: 'process', uid: 0, user: 'root' }],
    [18003, { kind: 'container', name: 'api-blue-web-1' }],
  ]);
  const ownProjects = new Map([[18003, 'api-blue']]);
  assert.match(conflict(() => checkPortFree({ app: 'api', listening, ownProjects }, 'blue', 18001)), /127\.0\.0\.1:18001, the blue slot's port, is already held by the container other-blue-web-1; nothing was started/);
  assert.match(conflict(() => checkPortFree({ app: 'api', listening, ownProjects }, 'green', 18002)), /held by a process of root \(sudo ss -ltnp shows which\).*GREEN_PORT/);
  checkPortFree({ app: 'api', listening, ownProjects }, 'blue', 18003);
  assert.match(conflict(() => checkPortFree({ app: 'api', listening, ownProjects }, 'green', 18003)), /held by the container api-blue-web-1/, "the app's other slot is not this slot");
  checkPortFree({ app: 'api', listening, ownProjects }, 'green', 18010);
});

test.run();
