import { describe, expect, test } from 'vitest';
import type { LedgerEvent } from '../../../src/adapters/redis/ledger.ts';
import { archiveFileName, decodeArchiveLine, encodeArchiveLine } from '../../../src/adapters/redis/ledger-archive.ts';
import { EVENT_SCHEMA_VERSION, record } from '../../../src/domain/task/events.ts';
import { EVERY_EVENT_TYPE, T0, TASK_ID } from '../../support/given.ts';

const EVERY_TYPE = EVERY_EVENT_TYPE;
const EVENTS: LedgerEvent[] = EVERY_TYPE.flatMap((e, i) =>
  record(TASK_ID, i, T0 + i * 1_234_567 + 1, [e]).map((r) => ({ ...r, ledgerId: `${T0 + i * 1000}-${i}` })),
);

describe('ledger archive lines', () => {
  test('cover every event type', () => {
    expect(new Set(EVENTS.map((e) => e.type)).size).toBe(12);
  });

  test('decode back to exactly the LedgerEvent they were written from, for every event type', () => {
    for (const e of EVENTS) expect(decodeArchiveLine(encodeArchiveLine(e)), e.type).toStrictEqual(e);
  });

  test('are readable: snake_case names, an RFC 3339 time with ms, times inside data stay ms numbers', () => {
    const [first, second] = EVENTS;
    expect(encodeArchiveLine(first as LedgerEvent)).toBe(
      `{"ledger_id":"${T0}-0","task_id":"${TASK_ID}","type":"enqueued","version":1,"at":"2025-01-01T00:00:00.001Z","schema":1,"data":{"queue":"critical","clientId":"billing","scheduleTime":${T0 + 60_000}}}`,
    );
    expect(JSON.parse(encodeArchiveLine(second as LedgerEvent))).toEqual({
      ledger_id: `${T0 + 1000}-1`,
      task_id: TASK_ID,
      type: 'scheduled',
      version: 2,
      at: '2025-01-01T00:20:34.568Z',
      schema: EVENT_SCHEMA_VERSION,
      data: { dueAt: T0 + 60_000 },
    });
  });

  test('keep each line on one line, whatever the data holds', () => {
    for (const e of EVENTS) expect(encodeArchiveLine(e)).not.toContain('\n');
  });

  test('refuse a time that is not whole milliseconds, as RFC 3339 with ms could not hold it exactly', () => {
    expect(() => encodeArchiveLine({ ...(EVENTS[0] as LedgerEvent), at: T0 + 0.5 })).toThrow(/not whole ms/);
  });

  test.each([
    ['not JSON', 'plain text', /JSON/],
    ['{"ledger_id":"abc"}', 'a bad ledger id', /"ledger_id" must be a stream id/],
    [
      '{"ledger_id":"1-0","task_id":"t","type":"exploded"}',
      'an unknown type',
      /"type" must be an event type, got "exploded"/,
    ],
    [
      '{"ledger_id":"1-0","task_id":"t","type":"scheduled","version":1,"at":"2025-01-01 00:00","schema":1,"data":{}}',
      'a time without ms',
      /"at" must be an RFC 3339 UTC time with ms/,
    ],
    [
      '{"ledger_id":"1-0","task_id":"t","type":"scheduled","version":0,"at":"2025-01-01T00:00:00.000Z","schema":1,"data":{}}',
      'version 0',
      /"version" must be a whole number/,
    ],
    [
      '{"ledger_id":"1-0","task_id":"t","type":"scheduled","version":1,"at":"2025-01-01T00:00:00.000Z","schema":1}',
      'no data',
      /"data" must be an object, got nothing/,
    ],
    [
      '{"ledger_id":"1-0","task_id":"t","type":"scheduled","version":1,"at":"2025-01-01T00:00:00.000Z","schema":99,"data":{}}',
      'a newer schema',
      /schema 99 is newer than this build/,
    ],
  ])('refuse %s (%s), naming what is wrong', (line, _what, message) => {
    expect(() => decodeArchiveLine(line)).toThrow(message);
  });

  test('go to the file of the UTC day of the event', () => {
    expect(archiveFileName(Date.UTC(2026, 10, 27, 23, 59, 59, 999))).toBe('ledger-2026-11-27.ndjson');
    expect(archiveFileName(Date.UTC(2026, 10, 28))).toBe('ledger-2026-11-28.ndjson');
  });
});
