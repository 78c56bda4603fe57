/** API keys look like `tdk_` + 32 random bytes in base64url (43 characters, no padding). */
export const API_KEY_PREFIX = 'tdk_';
export const API_KEY_RANDOM_BYTES = 32;
const API_KEY = /^tdk_[A-Za-z0-9_-]{43}$/;

export const isWellFormedApiKey = (s: string): boolean => API_KEY.test(s);

/**
 * What an `Authorization` header carries: `missing` (no header, or an empty one), `other-scheme` (not Bearer),
 * `malformed` (Bearer without a key, or with something that cannot be one of our keys: wrong length, other
 * characters), or a key worth looking up.
 */
export type Credentials =
  | Readonly<{ kind: 'missing' }>
  | Readonly<{ kind: 'other-scheme' }>
  | Readonly<{ kind: 'malformed' }>
  | Readonly<{ kind: 'key'; key: string }>;

export const parseAuthorization = (header: string | undefined): Credentials => {
  const value = (header ?? '').trim();
  if (value === '') return { kind: 'missing' };
  // the scheme is case-insensitive (RFC 9110 §11.1); one or more spaces separate it from the token
  const match = /^([^\s]+)(?:\s+(.*))?$/s.exec(value);
  if (match?.[1]?.toLowerCase() !== 'bearer') return { kind: 'other-scheme' };
  const key = match[2] ?? '';
  return isWellFormedApiKey(key) ? { kind: 'key', key } : { kind: 'malformed' };
};
