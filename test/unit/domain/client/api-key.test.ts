import { describe, expect, test } from 'vitest';
import { isWellFormedApiKey, parseAuthorization } from '../../../../src/domain/client/api-key.ts';

const KEY = `tdk_${'A'.repeat(40)}a-_`;

describe('API key format', () => {
  test('tdk_ and 43 base64url characters', () => {
    expect(isWellFormedApiKey(KEY)).toBe(true);
  });

  test.each([
    ['one character short', KEY.slice(0, -1)],
    ['one character long', `${KEY}A`],
    ['another prefix', `tdx_${KEY.slice(4)}`],
    ['standard base64 characters', `${KEY.slice(0, -2)}+/`],
    ['padding', `${KEY.slice(0, -1)}=`],
    ['a non-ASCII letter', `${KEY.slice(0, -1)}é`],
    ['an emoji', `${KEY.slice(0, -2)}😀`],
    ['a line break', `${KEY.slice(0, -1)}\n`],
  ])('not a key: %s', (_, s) => {
    expect(isWellFormedApiKey(s)).toBe(false);
  });
});

describe('Authorization header', () => {
  test.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['only spaces', '   '],
  ])('%s: missing', (_, header) => {
    expect(parseAuthorization(header)).toEqual({ kind: 'missing' });
  });

  test.each([
    ['Basic', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['a key without a scheme', KEY],
    ['Token', `Token ${KEY}`],
    ['Bearer glued to the key', `Bearer${KEY}`],
  ])('%s: another scheme', (_, header) => {
    expect(parseAuthorization(header)).toEqual({ kind: 'other-scheme' });
  });

  test.each([
    ['Bearer alone', 'Bearer'],
    ['Bearer and spaces', 'Bearer    '],
    ['a short key', `Bearer ${KEY.slice(0, 10)}`],
    ['two keys', `Bearer ${KEY} ${KEY}`],
    ['a unicode key', `Bearer ${KEY.slice(0, -1)}ß`],
    ['an admin key', 'Bearer my-admin-key'],
  ])('%s: malformed', (_, header) => {
    expect(parseAuthorization(header)).toEqual({ kind: 'malformed' });
  });

  test.each([
    ['Bearer', `Bearer ${KEY}`],
    ['the scheme in any case', `bEaReR ${KEY}`],
    ['several spaces and a tab', `Bearer  \t${KEY}`],
  ])('%s: the key', (_, header) => {
    expect(parseAuthorization(header)).toEqual({ kind: 'key', key: KEY });
  });
});
