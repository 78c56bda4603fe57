import { randomBytes } from 'node:crypto';

// random bytes are drawn in blocks: one system call per 512 ids instead of one per id
const POOL_IDS = 512;
let pool = Buffer.alloc(0);
let offset = 0;
const random16 = (): Buffer => {
  if (offset + 16 > pool.length) {
    pool = randomBytes(16 * POOL_IDS);
    offset = 0;
  }
  offset += 16;
  return Buffer.from(pool.subarray(offset - 16, offset));
};

/** A UUIDv7: time-ordered (newest tasks sort last), 74 random bits, so ids are unguessable and unique. */
export const newTaskId = (now = Date.now()): string => {
  const b = random16();
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** Ids this service hands out, and the Cloud Tasks task-id alphabet, at most 500 characters. */
export const isTaskId = (id: string): boolean => /^[A-Za-z0-9_-]{1,500}$/.test(id);
