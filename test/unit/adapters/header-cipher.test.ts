import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  createHeaderCipher,
  isSealed,
  keyIdOf,
  parseEncryptionKey,
} from '../../../src/adapters/crypto/header-cipher.ts';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const OTHER_KEY = Buffer.alloc(32, 7);
const SECRET = 'Bearer s3cr3t-\u00e9-value';
const CONTEXT = 'task-1\nauthorization\nhttps://example.com/hook';

/** Flips one bit of the sealed bytes at `index` (negative: from the end). */
const tamper = (sealed: string, index: number): string => {
  const cut = sealed.lastIndexOf(':') + 1;
  const raw = Buffer.from(sealed.slice(cut), 'base64');
  const i = index < 0 ? raw.length + index : index;
  raw[i] = (raw[i] as number) ^ 0x01;
  return sealed.slice(0, cut) + raw.toString('base64');
};

describe('parseEncryptionKey', () => {
  test('reads 64 hex characters', () => {
    expect(parseEncryptionKey(KEY.toString('hex'))).toEqual(KEY);
    expect(parseEncryptionKey(KEY.toString('hex').toUpperCase())).toEqual(KEY);
  });

  test('reads base64, padded or not, standard or URL-safe, around whitespace (as openssl and files give it)', () => {
    const key = randomBytes(32);
    expect(parseEncryptionKey(key.toString('base64'))).toEqual(key);
    expect(parseEncryptionKey(`${key.toString('base64')}\n`)).toEqual(key);
    expect(parseEncryptionKey(key.toString('base64').replace(/=+$/, ''))).toEqual(key);
    expect(parseEncryptionKey(key.toString('base64url'))).toEqual(key);
  });

  test.each([
    ['16 bytes of base64', randomBytes(16).toString('base64'), /decodes to 16 bytes/],
    ['48 bytes of base64', randomBytes(48).toString('base64'), /decodes to 48 bytes/],
    ['63 hex characters', KEY.toString('hex').slice(1), /decodes to 47 bytes/],
    ['not hex nor base64', 'this is not a key!', /neither hex nor base64/],
    ['padding inside', 'abcd=efgh', /neither hex nor base64/],
  ])('refuses %s, without quoting it', (_, text, reason) => {
    expect(() => parseEncryptionKey(text)).toThrow(reason);
    expect(() => parseEncryptionKey(text)).toThrow(/must be 32 bytes written as 64 hex characters or as base64/);
    try {
      parseEncryptionKey(text);
    } catch (err) {
      expect((err as Error).message).not.toContain(text);
    }
  });
});

describe('createHeaderCipher', () => {
  const cipher = createHeaderCipher(KEY);

  test('a sealed value opens to the value it was sealed from', () => {
    for (const value of [SECRET, '', 'x', 'a'.repeat(10_000), 'tab\there']) {
      expect(cipher.open(cipher.seal(value, CONTEXT), CONTEXT)).toBe(value);
    }
  });

  test('the sealed form is enc:v1:<key id>:<base64> and holds nothing of the value', () => {
    const sealed = cipher.seal(SECRET, CONTEXT);
    expect(sealed).toMatch(new RegExp(`^enc:v1:${cipher.keyId}:[A-Za-z0-9+/]+=*$`));
    expect(isSealed(sealed)).toBe(true);
    expect(isSealed(SECRET)).toBe(false);
    for (const form of [SECRET, Buffer.from(SECRET).toString('base64'), Buffer.from(SECRET).toString('hex')]) {
      expect(sealed).not.toContain(form);
    }
    // 12-byte IV + ciphertext (as long as the UTF-8 value) + 16-byte tag
    const raw = Buffer.from(sealed.slice(sealed.lastIndexOf(':') + 1), 'base64');
    expect(raw.length).toBe(12 + Buffer.byteLength(SECRET) + 16);
  });

  test('every seal takes a fresh IV: the same value never seals the same way twice', () => {
    const ivs = new Set<string>();
    const sealedForms = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const sealed = cipher.seal(SECRET, CONTEXT);
      sealedForms.add(sealed);
      ivs.add(
        Buffer.from(sealed.slice(sealed.lastIndexOf(':') + 1), 'base64')
          .subarray(0, 12)
          .toString('hex'),
      );
    }
    expect(ivs.size).toBe(1000);
    expect(sealedForms.size).toBe(1000);
  });

  test.each([
    ['the IV', 0],
    ['the ciphertext', 12],
    ['the tag', -1],
  ])('a changed bit in %s is detected', (_, index) => {
    const sealed = cipher.seal(SECRET, CONTEXT);
    expect(() => cipher.open(tamper(sealed, index), CONTEXT)).toThrow(/failed authentication/);
  });

  test('a value sealed for another task, header or URL does not open', () => {
    const sealed = cipher.seal(SECRET, CONTEXT);
    for (const other of [
      'task-2\nauthorization\nhttps://example.com/hook',
      'task-1\nx-api-key\nhttps://example.com/hook',
      'task-1\nauthorization\nhttps://attacker.example/hook',
    ]) {
      expect(() => cipher.open(sealed, other)).toThrow(/failed authentication/);
    }
  });

  test('a value sealed with another key names both keys and ENCRYPTION_KEY', () => {
    const other = createHeaderCipher(OTHER_KEY);
    expect(other.keyId).not.toBe(cipher.keyId);
    const sealed = other.seal(SECRET, CONTEXT);
    expect(() => cipher.open(sealed, CONTEXT)).toThrow(
      `secret headers were encrypted with key ${other.keyId}, but ENCRYPTION_KEY is key ${cipher.keyId}`,
    );
  });

  test('a wrong key is caught by the tag even when the key id is forged', () => {
    const other = createHeaderCipher(OTHER_KEY);
    const forged = other.seal(SECRET, CONTEXT).replace(`:${other.keyId}:`, `:${cipher.keyId}:`);
    expect(() => cipher.open(forged, CONTEXT)).toThrow(/failed authentication/);
  });

  test('a truncated or unsealed value is refused, and no message holds the value', () => {
    const sealed = cipher.seal(SECRET, CONTEXT);
    const attempts = [sealed.slice(0, 30), SECRET, `enc:v1:${cipher.keyId}`, 'enc:v1:'];
    for (const value of attempts) {
      expect(() => cipher.open(value, CONTEXT)).toThrow();
      try {
        cipher.open(value, CONTEXT);
      } catch (err) {
        expect((err as Error).message).not.toContain('s3cr3t');
      }
    }
  });

  test('the key id is stable for a key, differs between keys, and is not the key', () => {
    expect(keyIdOf(KEY)).toBe(createHeaderCipher(Buffer.from(KEY)).keyId);
    expect(keyIdOf(KEY)).toMatch(/^[0-9a-f]{8}$/);
    expect(KEY.toString('hex')).not.toContain(keyIdOf(KEY));
    expect(keyIdOf(OTHER_KEY)).not.toBe(keyIdOf(KEY));
  });

  test('only a 32-byte key makes a cipher', () => {
    expect(() => createHeaderCipher(randomBytes(16))).toThrow(/32 bytes/);
  });
});
