import { expect, test } from 'vitest';
import { effectivePort } from '../../../src/domain/net/effective-port.ts';

test.each([
  ['http://hooks.example/', 80],
  ['http://hooks.example:80/', 80],
  ['https://hooks.example/', 443],
  ['https://hooks.example:443/', 443],
  ['https://hooks.example:8443/', 8443],
  ['http://[::1]:9000/', 9000],
])('the port a connection to %s goes to is %i', (url, port) => expect(effectivePort(new URL(url))).toBe(port));

test("undici's connect options (port '' for the default) give the same", () => {
  expect(effectivePort({ protocol: 'https:', port: '' })).toBe(443);
  expect(effectivePort({ protocol: 'http:', port: '8080' })).toBe(8080);
});
