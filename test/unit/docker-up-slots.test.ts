import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { overrideYaml } from '../../tasks/docker-up/slots.ts';
import { appImageNameProblem, imageRef, parseImageRef } from '../../tasks/docker-up/image-name.ts';

const base = { port: 18001, appPort: 8000, app: 'api', release: '20261126-abc' };

test('the override names the service as a string, whatever YAML would make of the bare word', () => {
  for (const service of ['web', 'on', 'no', 'yes', 'null', 'true', '1', '0x1f', '1e3', 'a.b', 'api_2']) {
    const doc = parse(overrideYaml({ ...base, service })) as { services: Record<string, unknown> };
    assert.equal(Object.keys(doc.services), [service], service);
    assert.equal(doc.services[service], {
      image: `hoist/api/${service}:20261126-abc`,
      // dockerd starts it again at a reboot (a string, so YAML 1.1 readers see no boolean either)
      restart: 'unless-stopped',
      ports: ['127.0.0.1:18001:8000'],
      labels: { 'hoist.release': '20261126-abc' },
    });
  }
});

test('YAML 1.1 readers (PyYAML, as in docker-compose v1) see the same key', () => {
  // PyYAML follows YAML 1.1, where `on`, `no` and `yes` are booleans: the yaml package in its
  // 1.1 mode stands in for it here.
  for (const service of ['on', 'no', 'yes', 'off']) {
    const doc = parse(overrideYaml({ ...base, service }), { version: '1.1' }) as { services: Record<string, unknown> };
    assert.equal(Object.keys(doc.services), [service], service);
  }
});

test('hoist/APP/SERVICE:RELEASE splits back exactly, whatever - the app and service hold', () => {
  const R = '20240101000000-0123456789ab';
  assert.equal(parseImageRef(imageRef('web', 'api-x', R)), { app: 'web', service: 'api-x', release: R });
  assert.equal(parseImageRef(imageRef('web-api', 'x', R)), { app: 'web-api', service: 'x', release: R });
  assert.is.not(imageRef('web', 'api-x', R), imageRef('web-api', 'x', R));
  for (const other of [`hoist-web-api-x:${R}`, 'hoist/web/api-x:latest', `hoist/web/api/x:${R}`, `registry.example/hoist/web/x:${R}`]) assert.is(parseImageRef(other), null, other);
  assert.is(appImageNameProblem('web-api'), null);
  for (const bad of ['web-', 'web_', 'a_-b', 'a___b']) assert.ok(appImageNameProblem(bad), bad);
});

test.run();
