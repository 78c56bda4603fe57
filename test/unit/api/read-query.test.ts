import { describe, expect, test } from 'vitest';
import { DEFAULT_PAGE, MAX_PAGE, parseAsOf, parseDays, parseListQuery } from '../../../src/api/read-query.ts';
import { newTaskId } from '../../../src/api/task-id.ts';
import { T0 } from '../../support/given.ts';

type Query = Record<string, unknown>;

/** The names of the fields a failed parse complains about, in order. */
const fieldsOf = (v: { ok: true } | { ok: false; errors: readonly { field: string }[] }) =>
  v.ok ? [] : v.errors.map((e) => e.field);

describe('parseListQuery', () => {
  test('no parameters: the first page of everything, 50 tasks long', () => {
    expect(parseListQuery({})).toEqual({ ok: true, value: { limit: DEFAULT_PAGE } });
    expect(DEFAULT_PAGE).toBe(50);
  });

  test('every parameter, as a query string carries it, maps to the list query', () => {
    const cursor = newTaskId(T0);
    expect(
      parseListQuery({ queue: 'critical', status: 'retrying', client_id: 'billing-2', limit: '1000', cursor }),
    ).toEqual({
      ok: true,
      value: { queue: 'critical', status: 'retrying', clientId: 'billing-2', limit: MAX_PAGE, cursor },
    });
    expect(parseListQuery({ limit: '1' })).toEqual({ ok: true, value: { limit: 1 } });
  });

  test.each([
    ['queue', 'with a space', { queue: 'no spaces' }],
    ['queue', 'empty', { queue: '' }],
    ['queue', '65 characters long', { queue: 'q'.repeat(65) }],
    ['queue', 'given twice', { queue: ['a', 'b'] }],
    ['status', 'unknown', { status: 'done' }],
    ['status', '"new" (no task is listed as new)', { status: 'new' }],
    ['status', 'in capitals', { status: 'PENDING' }],
    ['status', 'given as a list', { status: ['pending'] }],
    ['client_id', 'with a slash', { client_id: 'a/b' }],
    ['client_id', '65 characters long', { client_id: 'c'.repeat(65) }],
    ['limit', '0', { limit: '0' }],
    ['limit', 'above the maximum', { limit: '1001' }],
    ['limit', 'negative', { limit: '-1' }],
    ['limit', 'fractional', { limit: '2.5' }],
    ['limit', 'in exponent notation', { limit: '1e2' }],
    ['limit', 'with a leading space', { limit: ' 5' }],
    ['limit', 'empty', { limit: '' }],
    ['limit', 'a word', { limit: 'ten' }],
    ['limit', 'given twice', { limit: ['5', '6'] }],
    ['cursor', 'with spaces', { cursor: 'not a task id' }],
    ['cursor', 'empty', { cursor: '' }],
    ['cursor', '501 characters long', { cursor: 'x'.repeat(501) }],
    ['page', 'unknown', { page: '2' }],
  ] as [string, string, Query][])('a %s that is %s is refused with an error naming it', (field, _, query) => {
    const parsed = parseListQuery(query);
    expect(parsed.ok).toBe(false);
    expect(fieldsOf(parsed)).toEqual([field]);
    if (!parsed.ok) {
      expect(parsed.tooLarge).toBe(false);
      expect(parsed.errors[0]?.expected).toEqual(expect.any(String));
    }
  });

  test('a status that is only an inherited property of an object is not a status', () => {
    for (const status of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(fieldsOf(parseListQuery({ status })), status).toEqual(['status']);
    }
  });

  test('several bad fields are all named at once, unknown ones too', () => {
    const parsed = parseListQuery({ queue: '!', status: 'x', client_id: '?', limit: '0', cursor: ' ', sort: 'asc' });
    expect(fieldsOf(parsed).sort()).toEqual(['client_id', 'cursor', 'limit', 'queue', 'sort', 'status']);
  });

  test('an unknown parameter says which ones exist', () => {
    const parsed = parseListQuery({ state: 'pending' });
    expect(parsed.ok ? null : parsed.errors).toEqual([
      { field: 'state', expected: expect.stringContaining('queue, status, client_id, limit, cursor') },
    ]);
  });
});

describe('parseAsOf', () => {
  test('no as_of: the current counts', () => expect(parseAsOf({})).toEqual({ ok: true, value: null }));

  test('an RFC 3339 instant in UTC or with an offset, with or without fractions', () => {
    expect(parseAsOf({ as_of: '2025-01-01T00:00:00Z' })).toEqual({ ok: true, value: T0 });
    expect(parseAsOf({ as_of: '2025-01-01T01:30:00+01:30' })).toEqual({ ok: true, value: T0 });
    expect(parseAsOf({ as_of: '2025-01-01T00:00:00.250z' })).toEqual({ ok: true, value: T0 + 250 });
    expect(parseAsOf({ as_of: '2024-12-31T23:59:59.999999999-00:00' })).toEqual({ ok: true, value: T0 - 1 });
    expect(parseAsOf({ as_of: '2024-02-29T00:00:00Z' })).toEqual({ ok: true, value: Date.UTC(2024, 1, 29) });
  });

  test.each([
    ['as_of', { as_of: '2025-01-01' }],
    ['as_of', { as_of: '2025-01-01 00:00:00Z' }],
    ['as_of', { as_of: '2025-01-01T00:00:00' }],
    ['as_of', { as_of: '1735689600000' }],
    ['as_of', { as_of: '2025-13-01T00:00:00Z' }],
    ['as_of', { as_of: '2025-01-01T24:00:01Z' }],
    ['as_of', { as_of: '2026-02-30T00:00:00Z' }],
    ['as_of', { as_of: '2025-02-29T00:00:00Z' }],
    ['as_of', { as_of: '2025-04-31T00:00:00Z' }],
    ['as_of', { as_of: '2025-01-00T00:00:00Z' }],
    ['as_of', { as_of: '2025-01-01T23:60:00Z' }],
    ['as_of', { as_of: '2025-01-01T23:59:60Z' }],
    ['as_of', { as_of: '' }],
    ['as_of', { as_of: ['2025-01-01T00:00:00Z'] }],
    ['at', { at: '2025-01-01T00:00:00Z' }],
  ] as [string, Query][])('an invalid %s is refused with an error naming it: %j', (field, query) => {
    expect(fieldsOf(parseAsOf(query))).toEqual([field]);
  });
});

describe('parseDays', () => {
  test('7 days unless asked, 1 to 90 accepted', () => {
    expect(parseDays({})).toEqual({ ok: true, value: 7 });
    expect(parseDays({ days: '1' })).toEqual({ ok: true, value: 1 });
    expect(parseDays({ days: '90' })).toEqual({ ok: true, value: 90 });
  });

  test.each([
    ['days', { days: '0' }],
    ['days', { days: '91' }],
    ['days', { days: '1.5' }],
    ['days', { days: 'week' }],
    ['days', { days: '-7' }],
    ['from', { from: '2025-01-01' }],
  ] as [string, Query][])('an invalid %s is refused with an error naming it: %j', (field, query) => {
    expect(fieldsOf(parseDays(query))).toEqual([field]);
  });

  test('an unknown parameter and a bad days are both named', () => {
    expect(fieldsOf(parseDays({ days: '0', weeks: '1' })).sort()).toEqual(['days', 'weeks']);
  });
});
