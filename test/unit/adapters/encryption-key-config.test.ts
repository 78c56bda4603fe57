import { randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { loadConfig } from '../../../src/adapters/config/env.ts';

test('ENCRYPTION_KEY is off by default', () => {
  expect(loadConfig({}).ENCRYPTION_KEY).toBe('');
});

test.each([
  ['base64', randomBytes(32).toString('base64')],
  ['hex', randomBytes(32).toString('hex')],
])('a 32-byte ENCRYPTION_KEY in %s is accepted', (_, key) => {
  expect(loadConfig({ ENCRYPTION_KEY: key }).ENCRYPTION_KEY).toBe(key);
});

test.each([
  ['too short', randomBytes(16).toString('base64')],
  ['too long', randomBytes(33).toString('hex')],
  ['not decodable', 'correct horse battery staple'],
])('an ENCRYPTION_KEY that is %s stops the start with a message naming it, never quoting it', (_, key) => {
  let message = '';
  try {
    loadConfig({ ENCRYPTION_KEY: key });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/^invalid environment: ENCRYPTION_KEY must be 32 bytes/);
  expect(message).not.toContain(key);
});
