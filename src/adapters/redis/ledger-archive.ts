import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Recorded, TaskEventType } from '../../domain/task/events.ts';
import { upcast } from './codec.ts';
import { compareLedgerIds, type LedgerEvent, utcDay } from './ledger.ts';

/**
 * The ledger as NDJSON, for auditors and for replay: one event per line,
 * `{"ledger_id":"1764201600000-0","task_id":"…","type":"enqueued","version":1,"at":"2026-11-27T00:00:00.000Z","schema":1,"data":{…}}`.
 * `at` is RFC 3339 with milliseconds, exact for the integer ms the service records; times inside `data` (dueAt,
 * scheduleTime) stay ms numbers, as in the event. `schema` is the event's schema version (upcast when read).
 */
type ArchiveLine = Readonly<{
  ledger_id: string;
  task_id: string;
  type: TaskEventType;
  version: number;
  at: string;
  schema: number;
  data: unknown;
}>;

/** Every event type, so a line with an unknown one is refused by name (the compiler keeps the list complete). */
const EVENT_TYPES = {
  enqueued: true,
  scheduled: true,
  released: true,
  leased: true,
  attempted: true,
  succeeded: true,
  retry_scheduled: true,
  failed: true,
  lease_expired: true,
  cancelled: true,
  expunged: true,
  deferred: true,
} as const satisfies Record<TaskEventType, true>;

const LEDGER_ID = /^\d+-\d+$/;
const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const encodeArchiveLine = (e: LedgerEvent): string => {
  if (!Number.isSafeInteger(e.at)) throw new Error(`event ${e.ledgerId} has a time of ${e.at}, not whole ms`);
  const line: ArchiveLine = {
    ledger_id: e.ledgerId,
    task_id: e.taskId,
    type: e.type,
    version: e.version,
    at: new Date(e.at).toISOString(),
    schema: e.schema,
    data: e.data,
  };
  return JSON.stringify(line);
};

/** The exact LedgerEvent a line was written from; throws naming the field that is wrong. */
export const decodeArchiveLine = (text: string): LedgerEvent => {
  const raw = JSON.parse(text) as Partial<Record<keyof ArchiveLine, unknown>>;
  const wrong = (field: string, expected: string) =>
    new Error(`"${field}" must be ${expected}, got ${JSON.stringify(raw[field as keyof ArchiveLine]) ?? 'nothing'}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('not a JSON object');
  if (typeof raw.ledger_id !== 'string' || !LEDGER_ID.test(raw.ledger_id)) throw wrong('ledger_id', 'a stream id');
  if (typeof raw.task_id !== 'string' || raw.task_id === '') throw wrong('task_id', 'a task id');
  if (typeof raw.type !== 'string' || !Object.hasOwn(EVENT_TYPES, raw.type)) throw wrong('type', 'an event type');
  if (!Number.isSafeInteger(raw.version) || (raw.version as number) < 1) throw wrong('version', 'a whole number ≥ 1');
  if (typeof raw.at !== 'string' || !RFC3339_MS.test(raw.at)) throw wrong('at', 'an RFC 3339 UTC time with ms');
  if (!Number.isSafeInteger(raw.schema) || (raw.schema as number) < 1) throw wrong('schema', 'a whole number ≥ 1');
  if (typeof raw.data !== 'object' || raw.data === null || Array.isArray(raw.data)) throw wrong('data', 'an object');
  const event = {
    type: raw.type,
    data: raw.data,
    taskId: raw.task_id,
    version: raw.version,
    at: Date.parse(raw.at),
    schema: raw.schema,
  } as Recorded;
  return { ...upcast(event), ledgerId: raw.ledger_id };
};

/** The file of the UTC day an event happened on. */
export const archiveFileName = (at: number): string => `ledger-${utcDay(at)}.ndjson`;

/**
 * Appends events (in ledger order) to the day files in `dir` and fsyncs them; returns how many lines it wrote.
 * Safe to repeat after a crash: a torn last line is cut off first, and events at or before a file's last complete
 * line are not written again, so every file stays in ledger order without duplicates.
 */
export const appendToArchive = async (dir: string, events: readonly LedgerEvent[]): Promise<number> => {
  await mkdir(dir, { recursive: true });
  const byFile = new Map<string, LedgerEvent[]>();
  for (const e of events) {
    const path = join(dir, archiveFileName(e.at));
    const list = byFile.get(path);
    if (list) list.push(e);
    else byFile.set(path, [e]);
  }
  let written = 0;
  let created = false;
  for (const [path, fileEvents] of byFile) {
    const file = await open(path, 'a+');
    try {
      const { size } = await file.stat();
      created ||= size === 0;
      const last = await lastArchivedId(file, size, path);
      const lines = fileEvents.filter((e) => last === null || compareLedgerIds(e.ledgerId, last) > 0);
      if (lines.length === 0) continue;
      await file.appendFile(`${lines.map(encodeArchiveLine).join('\n')}\n`);
      await file.sync();
      written += lines.length;
    } finally {
      await file.close();
    }
  }
  if (created) await syncDirectory(dir);
  return written;
};

/** The ledger id of a file's last complete line, after cutting off a torn one; null for an empty file. */
const lastArchivedId = async (file: FileHandle, size: number, path: string): Promise<string | null> => {
  if (size === 0) return null;
  // read back from the end until the tail holds the last complete line whole (two newlines) or is the whole file
  let span = Math.min(size, 64 * 1024);
  let tail = Buffer.alloc(span);
  for (;;) {
    await file.read(tail, 0, span, size - span);
    const end = tail.lastIndexOf(0x0a);
    if (span === size || (end > 0 && tail.lastIndexOf(0x0a, end - 1) >= 0)) break;
    span = Math.min(size, span * 4);
    tail = Buffer.alloc(span);
  }
  const end = tail.lastIndexOf(0x0a);
  const completeSize = end < 0 ? 0 : size - span + end + 1;
  if (completeSize < size) {
    await file.truncate(completeSize);
    await file.sync();
  }
  if (end < 0) return null;
  const start = end > 0 ? tail.lastIndexOf(0x0a, end - 1) : -1;
  const line = tail.subarray(start + 1, end).toString('utf8');
  try {
    return decodeArchiveLine(line).ledgerId;
  } catch (err) {
    throw new Error(`${path}: its last line cannot be read (${(err as Error).message}); move the file aside`);
  }
};

/** A new file's directory entry is only durable once the directory itself is synced. */
const syncDirectory = async (dir: string) => {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
};

/**
 * The events of one archive file, in order. A last line without its newline is left out: it is being written, or
 * was torn by a crash, and either way its events are still in Redis (the archive checkpoint only moves after an fsync).
 */
export async function* readArchiveFile(path: string): AsyncGenerator<LedgerEvent> {
  let rest = '';
  let lineNo = 0;
  let previous = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let event: LedgerEvent;
      try {
        event = decodeArchiveLine(line);
      } catch (err) {
        throw new Error(`${path}:${lineNo}: ${(err as Error).message}`);
      }
      if (previous !== '' && compareLedgerIds(event.ledgerId, previous) <= 0) {
        throw new Error(
          `${path}:${lineNo}: ledger id ${event.ledgerId} does not come after ${previous}; an archive file must be in ledger order, as retention and \`ledger export\` write it`,
        );
      }
      previous = event.ledgerId;
      yield event;
    }
  }
}

/** The events of several archive files merged into ledger order; an event found in more than one comes out once. */
export async function* mergeArchives(paths: readonly string[]): AsyncGenerator<LedgerEvent> {
  const sources = paths.map((path) => ({ path, events: readArchiveFile(path), head: null as LedgerEvent | null }));
  const advance = async (s: (typeof sources)[number]) => {
    const next = await s.events.next();
    s.head = next.done ? null : next.value;
  };
  for (const s of sources) await advance(s);
  let last: LedgerEvent | null = null;
  for (;;) {
    let min: (typeof sources)[number] | null = null;
    for (const s of sources) {
      if (s.head && (!min?.head || compareLedgerIds(s.head.ledgerId, min.head.ledgerId) < 0)) min = s;
    }
    const event = min?.head;
    if (!min || !event) return;
    await advance(min);
    if (last?.ledgerId === event.ledgerId) {
      if (last.taskId !== event.taskId || last.version !== event.version) {
        throw new Error(
          `${min.path}: ledger id ${event.ledgerId} holds a different event than in another file; the files come from different ledgers`,
        );
      }
      continue;
    }
    last = event;
    yield event;
  }
}
