import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  appendToArchive,
  encodeArchiveLine,
  mergeArchives,
  readArchiveFile,
} from '../../../src/adapters/redis/ledger-archive.ts';
import { record } from '../../../src/domain/task/events.ts';
import type { LedgerEvent } from '../../../src/projections/projection.ts';

const D1 = Date.UTC(2026, 10, 27, 23, 59, 0);

/** Event i of task t-i happens i minutes after D1: the first on 27 Nov (UTC), the rest on 28 Nov. */
const event = (i: number): LedgerEvent => ({
  ...(record(`t-${i}`, 0, D1 + i * 60_000, [{ type: 'cancelled', data: { by: 'api' } }])[0] as LedgerEvent),
  ledgerId: `${D1 + i * 60_000}-${i}`,
});
const EVENTS = Array.from({ length: 6 }, (_, i) => event(i));

const collect = async (events: AsyncIterable<LedgerEvent>) => {
  const out: LedgerEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'td-archive-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) => readFileSync(join(dir, file), 'utf8');

describe('appending to the archive', () => {
  test('writes one file per UTC day of the event, each line ending in a newline, in ledger order', async () => {
    expect(await appendToArchive(dir, EVENTS)).toBe(6);
    expect(readdirSync(dir).sort()).toEqual(['ledger-2026-11-27.ndjson', 'ledger-2026-11-28.ndjson']);
    expect(lines('ledger-2026-11-27.ndjson')).toBe(`${EVENTS.slice(0, 1).map(encodeArchiveLine).join('\n')}\n`);
    expect(lines('ledger-2026-11-28.ndjson')).toBe(`${EVENTS.slice(1).map(encodeArchiveLine).join('\n')}\n`);
  });

  test('creates the directory when it does not exist yet', async () => {
    const nested = join(dir, 'a', 'b');
    await appendToArchive(nested, EVENTS.slice(0, 1));
    expect(readdirSync(nested)).toEqual(['ledger-2026-11-27.ndjson']);
  });

  test('appending the same events again (a retry after a crash) writes nothing twice', async () => {
    await appendToArchive(dir, EVENTS.slice(0, 4));
    expect(await appendToArchive(dir, EVENTS)).toBe(2);
    expect(await collect(mergeArchives(readdirSync(dir).map((f) => join(dir, f))))).toEqual(EVENTS);
    expect(lines('ledger-2026-11-28.ndjson').split('\n')).toHaveLength(6);
  });

  test('a torn last line (a crash mid-write) is cut off and written again whole', async () => {
    await appendToArchive(dir, EVENTS.slice(1, 3));
    appendFileSync(join(dir, 'ledger-2026-11-28.ndjson'), encodeArchiveLine(EVENTS[3] as LedgerEvent).slice(0, 40));
    expect(await appendToArchive(dir, EVENTS.slice(1))).toBe(3);
    expect(await collect(readArchiveFile(join(dir, 'ledger-2026-11-28.ndjson')))).toEqual(EVENTS.slice(1));
  });

  test('a file holding only a torn line is started afresh', async () => {
    writeFileSync(join(dir, 'ledger-2026-11-27.ndjson'), '{"ledger_id":"17');
    expect(await appendToArchive(dir, EVENTS.slice(0, 1))).toBe(1);
    expect(lines('ledger-2026-11-27.ndjson')).toBe(`${encodeArchiveLine(EVENTS[0] as LedgerEvent)}\n`);
  });

  test('finds the last line behind a torn tail longer than one read', async () => {
    await appendToArchive(dir, EVENTS.slice(1, 3));
    appendFileSync(join(dir, 'ledger-2026-11-28.ndjson'), `{"ledger_id":"${'9'.repeat(200_000)}`);
    expect(await appendToArchive(dir, EVENTS.slice(1))).toBe(3);
    expect(await collect(readArchiveFile(join(dir, 'ledger-2026-11-28.ndjson')))).toEqual(EVENTS.slice(1));
  });
});

describe('reading the archive', () => {
  test('merges files into ledger order, whatever order they are named in, and yields an event in two files once', async () => {
    await appendToArchive(dir, EVENTS);
    const export_ = join(dir, 'export.ndjson');
    writeFileSync(export_, `${EVENTS.slice(0, 3).map(encodeArchiveLine).join('\n')}\n`);
    const files = [join(dir, 'ledger-2026-11-28.ndjson'), export_, join(dir, 'ledger-2026-11-27.ndjson')];
    expect(await collect(mergeArchives(files))).toEqual(EVENTS);
  });

  test('leaves out a last line without its newline: it is still being written', async () => {
    const file = join(dir, 'f.ndjson');
    writeFileSync(
      file,
      `${encodeArchiveLine(EVENTS[0] as LedgerEvent)}\n${encodeArchiveLine(EVENTS[1] as LedgerEvent)}`,
    );
    expect(await collect(readArchiveFile(file))).toEqual(EVENTS.slice(0, 1));
  });

  test('names the file and line of a line it cannot read', async () => {
    const file = join(dir, 'f.ndjson');
    writeFileSync(file, `${encodeArchiveLine(EVENTS[0] as LedgerEvent)}\n{"ledger_id":"x"}\n`);
    await expect(collect(readArchiveFile(file))).rejects.toThrow(`${file}:2: "ledger_id" must be a stream id`);
  });

  test('refuses a file out of ledger order, naming the line', async () => {
    const file = join(dir, 'f.ndjson');
    writeFileSync(file, `${[EVENTS[1], EVENTS[0]].map((e) => encodeArchiveLine(e as LedgerEvent)).join('\n')}\n`);
    await expect(collect(readArchiveFile(file))).rejects.toThrow(`${file}:2: ledger id ${EVENTS[0]?.ledgerId}`);
  });

  test('refuses two files that hold different events under one ledger id', async () => {
    const a = join(dir, 'a.ndjson');
    const b = join(dir, 'b.ndjson');
    writeFileSync(a, `${encodeArchiveLine(EVENTS[0] as LedgerEvent)}\n`);
    writeFileSync(b, `${encodeArchiveLine({ ...(EVENTS[1] as LedgerEvent), ledgerId: EVENTS[0]?.ledgerId ?? '' })}\n`);
    await expect(collect(mergeArchives([a, b]))).rejects.toThrow(/different ledgers/);
  });

  test('a missing file is an error naming it', async () => {
    await expect(collect(mergeArchives([join(dir, 'nope.ndjson')]))).rejects.toThrow(/nope\.ndjson/);
  });
});
