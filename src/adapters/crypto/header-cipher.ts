import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The marker and format version every sealed value starts with. */
const PREFIX = 'enc:v1:';

/**
 * Seals secret header values with AES-256-GCM: `enc:v1:<key id>:<base64 of iv | ciphertext | tag>`, with a
 * fresh random 12-byte IV per value. `context` is authenticated but not stored (the task id, header name and
 * URL), so a sealed value copied to another task or header, or a task pointed at another URL, does not open.
 *
 * One key only: there is no key rotation. A value sealed with another key does not open, and the error names
 * both key ids. The key id in every sealed value leaves room for rotation later (opening with older keys
 * looked up by id) without changing the stored format.
 */
export type HeaderCipher = Readonly<{
  /** Names the key without revealing it (a hash prefix), so a wrong key is told apart from tampering. */
  keyId: string;
  seal: (value: string, context: string) => string;
  /** Throws, with a message that holds nothing of the value, when the value cannot be opened with this key. */
  open: (sealed: string, context: string) => string;
}>;

export const isSealed = (value: string): boolean => value.startsWith(PREFIX);

/**
 * Reads ENCRYPTION_KEY: 32 bytes as 64 hex characters or as base64 (standard or URL-safe, padding optional).
 * Error messages never quote the key.
 */
export const parseEncryptionKey = (text: string): Buffer => {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const expected = `must be ${KEY_BYTES} bytes written as 64 hex characters or as base64 (openssl rand -base64 32)`;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new Error(`${expected}; it is neither hex nor base64`);
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`${expected}; it decodes to ${key.length} bytes`);
  return key;
};

export const keyIdOf = (key: Buffer): string =>
  createHash('sha256').update('task-dispatcher header key id\0').update(key).digest('hex').slice(0, 8);

export const createHeaderCipher = (key: Buffer): HeaderCipher => {
  if (key.length !== KEY_BYTES) throw new Error(`an AES-256 key is ${KEY_BYTES} bytes, not ${key.length}`);
  const keyId = keyIdOf(key);
  const seal = (value: string, context: string): string => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const sealed = Buffer.concat([iv, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${keyId}:${sealed.toString('base64')}`;
  };
  const open = (value: string, context: string): string => {
    const colon = value.indexOf(':', PREFIX.length);
    if (!isSealed(value) || colon < 0) throw new Error('a secret header value is not in the enc:v1 format');
    const sealedWith = value.slice(PREFIX.length, colon);
    if (sealedWith !== keyId) {
      throw new Error(`secret headers were encrypted with key ${sealedWith}, but ENCRYPTION_KEY is key ${keyId}`);
    }
    const raw = Buffer.from(value.slice(colon + 1), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('a secret header value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new Error('a secret header value failed authentication: it, or the task it belongs to, was altered');
    }
  };
  return { keyId, seal, open };
};
