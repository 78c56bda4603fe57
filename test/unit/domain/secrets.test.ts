import { describe, expect, test } from 'vitest';
import {
  hasSecretHeaders,
  isSecretHeader,
  mapSecretHeaders,
  maskHeaders,
  SECRET_MASK,
} from '../../../src/domain/task/secrets.ts';

describe('isSecretHeader', () => {
  test.each([
    // the three full names, in any letter case
    'Authorization',
    'authorization',
    'AUTHORIZATION',
    'Cookie',
    'Proxy-Authorization',
    'proxy-authorization',
    // a secret word as the last component (all that matched before the names were split)
    'X-Api-Key',
    'x-api-key',
    'Api-Key',
    'X-Auth-Token',
    'X-CSRF-TOKEN',
    'Client-Secret',
    'x-webhook-secret',
    '-token',
    // a secret word as any component, split on - and _
    'apikey',
    'X-Apikey',
    'x_api_key',
    'API_KEY',
    'Key',
    'token',
    'Token',
    'secret',
    'password',
    'X-Password',
    'passwd',
    'db_pwd',
    'X-Passphrase',
    'x-auth',
    'Auth',
    'X-Auth-User',
    'signature',
    'Stripe-Signature',
    'X-Hub-Signature-256',
    'x-session',
    'Session-Id',
    'X-Credential',
    'credentials',
    'Private-Token',
    'X-Amz-Security-Token',
    'X-Goog-Api-Key',
    'Ocp-Apim-Subscription-Key',
    'X-JWT',
    'X-Token-Id',
    'Authorization-Hint',
    'Set-Cookie',
  ])('%s is secret', (name) => {
    expect(isSecretHeader(name)).toBe(true);
  });

  test.each([
    'Content-Type',
    'Accept',
    'Accept-Encoding',
    'X-Request-Id',
    'User-Agent',
    'Keep-Alive',
    'X-Keyboard',
    'Tokens',
    'X-Secretive',
    'X-Author',
    'Cookie2',
    'X-Sessions-Count',
    'X-Monkey',
    'X-Signed',
    'Traceparent',
    'X-Forwarded-For',
    'Cache-Control',
    '',
  ])('%s is not secret', (name) => {
    expect(isSecretHeader(name)).toBe(false);
  });
});

describe('maskHeaders', () => {
  test('replaces every secret value by the same fixed mask and keeps the rest and the order', () => {
    const headers = {
      'Content-Type': 'application/json',
      Authorization: 'Bearer a-very-long-token-value-that-must-not-show',
      'X-Api-Key': 'k',
      Accept: '*/*',
      cookie: 'session=abc',
    };
    const masked = maskHeaders(headers);
    expect(masked).toStrictEqual({
      'Content-Type': 'application/json',
      Authorization: SECRET_MASK,
      'X-Api-Key': SECRET_MASK,
      Accept: '*/*',
      cookie: SECRET_MASK,
    });
    expect(Object.keys(masked)).toEqual(Object.keys(headers));
  });

  test('does not change the headers it is given', () => {
    const headers = { Authorization: 'Bearer x' };
    maskHeaders(headers);
    expect(headers).toStrictEqual({ Authorization: 'Bearer x' });
  });

  test('the mask reveals neither length nor content', () => {
    expect(maskHeaders({ 'X-Auth-Token': 'a' })).toStrictEqual(maskHeaders({ 'X-Auth-Token': 'b'.repeat(500) }));
  });
});

describe('mapSecretHeaders', () => {
  test('calls the function only for secret headers, with the name as written', () => {
    const seen: string[] = [];
    const out = mapSecretHeaders({ 'X-Auth-Token': 't', Accept: 'a' }, (name, value) => {
      seen.push(name);
      return value.toUpperCase();
    });
    expect(seen).toEqual(['X-Auth-Token']);
    expect(out).toStrictEqual({ 'X-Auth-Token': 'T', Accept: 'a' });
  });
});

describe('hasSecretHeaders', () => {
  test('tells whether any header is secret', () => {
    expect(hasSecretHeaders({ Accept: 'a', 'Content-Type': 'b' })).toBe(false);
    expect(hasSecretHeaders({ Accept: 'a', 'x-service-key': 'b' })).toBe(true);
    expect(hasSecretHeaders({})).toBe(false);
  });
});
