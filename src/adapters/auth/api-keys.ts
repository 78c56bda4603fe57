import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_KEY_PREFIX, API_KEY_RANDOM_BYTES } from '../../domain/client/api-key.ts';

/** A new API key: `tdk_` + 32 random bytes, base64url. It is shown once; only its digest is stored. */
export const newApiKey = (): string => API_KEY_PREFIX + randomBytes(API_KEY_RANDOM_BYTES).toString('base64url');

/** SHA-256 of the key, hex: what the registry stores and looks keys up by. */
export const digestApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * Compares two digests in constant time. Both are SHA-256 hex, so the buffers always have the same length and
 * timingSafeEqual (which throws on unequal lengths) is reached; a stored value that is not a digest never matches.
 */
export const sameDigest = (stored: string, given: string): boolean => {
  if (!DIGEST.test(stored) || !DIGEST.test(given)) return false;
  return timingSafeEqual(Buffer.from(stored, 'hex'), Buffer.from(given, 'hex'));
};
