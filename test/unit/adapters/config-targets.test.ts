import { expect, test } from 'vitest';
import { loadConfig } from '../../../src/adapters/config/env.ts';

test('the SSRF guard is on by default: no private URLs, an empty allowlist', () => {
  expect(loadConfig({})).toMatchObject({ ALLOW_PRIVATE_URLS: false, TARGET_ALLOWLIST: '' });
});

test('a valid TARGET_ALLOWLIST and ALLOW_PRIVATE_URLS are taken as given', () => {
  const c = loadConfig({ ALLOW_PRIVATE_URLS: 'true', TARGET_ALLOWLIST: 'hooks.internal,10.1.2.0/24,[fd00::5]:8080' });
  expect([c.ALLOW_PRIVATE_URLS, c.TARGET_ALLOWLIST]).toEqual([true, 'hooks.internal,10.1.2.0/24,[fd00::5]:8080']);
});

test('a bad TARGET_ALLOWLIST stops the start, naming the bad entry', () => {
  expect(() => loadConfig({ TARGET_ALLOWLIST: 'hooks.internal, http://evil.example/' })).toThrow(
    'invalid environment: TARGET_ALLOWLIST: "http://evil.example/" is not a host name, host:port pair',
  );
});
