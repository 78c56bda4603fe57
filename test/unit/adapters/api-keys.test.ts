import * as crypto from 'node:crypto';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { digestApiKey, newApiKey, sameDigest } from '../../../src/adapters/auth/api-keys.ts';
import { isWellFormedApiKey } from '../../../src/domain/client/api-key.ts';

// the real node:crypto, with timingSafeEqual observable
vi.mock('node:crypto', async (original) => {
  const real = await original<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

afterEach(() => vi.mocked(crypto.timingSafeEqual).mockClear());

describe('API keys', () => {
  test('a new key is tdk_ + 32 random bytes in base64url, different every time', () => {
    const keys = Array.from({ length: 50 }, newApiKey);
    for (const k of keys) expect(isWellFormedApiKey(k)).toBe(true);
    expect(Buffer.from(keys[0]?.slice(4) ?? '', 'base64url')).toHaveLength(32);
    expect(new Set(keys).size).toBe(50);
  });

  test('the digest is SHA-256 hex of the key', () => {
    expect(digestApiKey('tdk_x')).toBe(crypto.createHash('sha256').update('tdk_x').digest('hex'));
    expect(digestApiKey('tdk_x')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('digest comparison', () => {
  const a = digestApiKey(newApiKey());
  const b = digestApiKey(newApiKey());

  test('equal digests match, through timingSafeEqual on two 32-byte buffers', () => {
    expect(sameDigest(a, a)).toBe(true);
    const calls = vi.mocked(crypto.timingSafeEqual).mock.calls;
    expect(calls).toHaveLength(1);
    const [x, y] = calls[0] as [Buffer, Buffer];
    expect([x.length, y.length]).toEqual([32, 32]);
  });

  test('different digests do not match, also through timingSafeEqual (no early exit on content)', () => {
    expect(sameDigest(a, b)).toBe(false);
    expect(vi.mocked(crypto.timingSafeEqual)).toHaveBeenCalledTimes(1);
  });

  test('a stored value that is not a digest never matches, and never throws', () => {
    for (const stored of ['', 'abc', a.toUpperCase(), `${a}00`, 'z'.repeat(64)]) {
      expect(sameDigest(stored, a)).toBe(false);
    }
  });
});
