import { describe, expect, test } from 'vitest';
import { createHeaderCipher } from '../../../src/adapters/crypto/header-cipher.ts';
import { decodeMaskedRequest, decodeRequest, encodeRequest } from '../../../src/adapters/redis/codec.ts';
import { SECRET_MASK } from '../../../src/domain/task/secrets.ts';
import type { HttpRequestSpec } from '../../../src/domain/task/task.ts';

const TASK_ID = '0193f1e2-7c00-7000-8000-000000000001';
const cipher = createHeaderCipher(Buffer.alloc(32, 1));
const otherCipher = createHeaderCipher(Buffer.alloc(32, 2));
const SECRETS = ['Bearer plant-auth-1f3a', 'plant-apikey-77c2', 'plant-token-90be', 'sid=plant-cookie-4d1e'];
const REQUEST: HttpRequestSpec = {
  url: 'https://example.com/hook',
  method: 'POST',
  headers: {
    'Content-Type': 'application/json',
    Authorization: SECRETS[0] as string,
    'X-Api-Key': SECRETS[1] as string,
    'x-auth-token': SECRETS[2] as string,
    Cookie: SECRETS[3] as string,
  },
  body: '{"a":1}',
};
const MASKED = {
  ...REQUEST,
  headers: {
    'Content-Type': 'application/json',
    Authorization: SECRET_MASK,
    'X-Api-Key': SECRET_MASK,
    'x-auth-token': SECRET_MASK,
    Cookie: SECRET_MASK,
  },
};

const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a throw');
};

describe('a request stored with a cipher', () => {
  const stored = encodeRequest(REQUEST, TASK_ID, cipher);

  test('holds no secret value in any form, and every other header as given', () => {
    for (const secret of SECRETS) {
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain(Buffer.from(secret).toString('base64'));
    }
    const raw = JSON.parse(stored);
    expect(raw.sealed).toBe(1);
    expect(raw.headers['Content-Type']).toBe('application/json');
    for (const name of ['Authorization', 'X-Api-Key', 'x-auth-token', 'Cookie']) {
      expect(raw.headers[name]).toMatch(new RegExp(`^enc:v1:${cipher.keyId}:`));
    }
  });

  test('opens, for dispatch, to the request as enqueued, headers in their order', () => {
    const opened = decodeRequest(stored, TASK_ID, cipher);
    expect(opened).toStrictEqual(REQUEST);
    expect(Object.keys(opened?.headers ?? {})).toEqual(Object.keys(REQUEST.headers));
  });

  test('reads masked without any key', () => {
    expect(decodeMaskedRequest(stored)).toStrictEqual(MASKED);
  });

  test('does not open without a key, and says ENCRYPTION_KEY is not set', () => {
    expect(() => decodeRequest(stored, TASK_ID)).toThrow(
      'its secret headers are stored encrypted and ENCRYPTION_KEY is not set',
    );
  });

  test('does not open with another key, and says which keys', () => {
    expect(() => decodeRequest(stored, TASK_ID, otherCipher)).toThrow(
      `encrypted with key ${cipher.keyId}, but ENCRYPTION_KEY is key ${otherCipher.keyId}`,
    );
  });

  test('does not open as another task, or once its URL was changed in Redis', () => {
    expect(() => decodeRequest(stored, `${TASK_ID.slice(0, -1)}2`, cipher)).toThrow(/failed authentication/);
    const retargeted = stored.replace('https://example.com/hook', 'https://attacker.example/hook');
    expect(() => decodeRequest(retargeted, TASK_ID, cipher)).toThrow(/failed authentication/);
  });
});

describe('a request stored without a cipher', () => {
  const stored = encodeRequest(REQUEST);

  test('is stored as given (ENCRYPTION_KEY not set), with no sealed mark', () => {
    expect(JSON.parse(stored)).toStrictEqual(REQUEST);
  });

  test('is dispatched as given, with or without a key configured since', () => {
    expect(decodeRequest(stored)).toStrictEqual(REQUEST);
    expect(decodeRequest(stored, TASK_ID, cipher)).toStrictEqual(REQUEST);
  });

  test('a value that merely looks sealed is taken as given', () => {
    const lookalike = { ...REQUEST, headers: { Authorization: 'enc:v1:00000000:AAAA' } };
    expect(decodeRequest(encodeRequest(lookalike), TASK_ID, cipher)).toStrictEqual(lookalike);
  });

  test('still reads masked', () => {
    expect(decodeMaskedRequest(stored)).toStrictEqual(MASKED);
  });
});

describe('a request stored before the list of secret names grew', () => {
  // stored sealed, when only Authorization was secret: apikey and X-Session were stored in plain beside it
  const before = { ...REQUEST, headers: { Authorization: SECRETS[0] as string } };
  const sealedBefore = JSON.parse(encodeRequest(before, TASK_ID, cipher));
  const stored = JSON.stringify({
    ...sealedBefore,
    headers: {
      ...sealedBefore.headers,
      apikey: 'plain-apikey-5b7e',
      'X-Session': 'plain-session-0c4d',
    },
  });

  test('opens, for dispatch, the sealed values and gives the now-secret plain ones as stored', () => {
    expect(decodeRequest(stored, TASK_ID, cipher)?.headers).toStrictEqual({
      Authorization: SECRETS[0],
      apikey: 'plain-apikey-5b7e',
      'X-Session': 'plain-session-0c4d',
    });
  });

  test('reads with the now-secret values masked', () => {
    expect(decodeMaskedRequest(stored)?.headers).toStrictEqual({
      Authorization: SECRET_MASK,
      apikey: SECRET_MASK,
      'X-Session': SECRET_MASK,
    });
  });
});

test('in a request with secret headers, a value that looks sealed is sealed too, so it is delivered as given', () => {
  const lookalike = { ...REQUEST, headers: { Authorization: SECRETS[0] as string, 'X-Trace': 'enc:v1:00000000:AAAA' } };
  const stored = encodeRequest(lookalike, TASK_ID, cipher);
  expect(JSON.parse(stored).headers['X-Trace']).toMatch(new RegExp(`^enc:v1:${cipher.keyId}:`));
  expect(decodeRequest(stored, TASK_ID, cipher)).toStrictEqual(lookalike);
});

test('a request without secret headers is stored as given even with a cipher, so any worker can send it', () => {
  const plain: HttpRequestSpec = { ...REQUEST, headers: { Accept: 'text/plain' } };
  expect(encodeRequest(plain, TASK_ID, cipher)).toBe(encodeRequest(plain));
  expect(decodeRequest(encodeRequest(plain, TASK_ID, cipher))).toStrictEqual(plain);
});

test('a corrupt stored request is refused without quoting it', () => {
  const corrupt = `{"headers":{"Authorization":"${SECRETS[0]}"`;
  for (const decode of [() => decodeRequest(corrupt), () => decodeMaskedRequest(corrupt)]) {
    const message = messageOf(decode);
    expect(message).toBe('the stored request is not valid JSON');
    expect(message).not.toContain('plant');
  }
});
