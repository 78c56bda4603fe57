import { describe, expect, test } from 'vitest';
import {
  decodeEvent,
  decodeHistory,
  decodeRequest,
  encodeEvent,
  encodeRequest,
} from '../../../src/adapters/redis/codec.ts';
import { EVENT_SCHEMA_VERSION, type Recorded, record } from '../../../src/domain/task/events.ts';
import type { HttpRequestSpec } from '../../../src/domain/task/task.ts';
import { EVERY_EVENT_TYPE, enqueued, retryScheduled, T0, TASK_ID } from '../../support/given.ts';

const EVERY_TYPE = EVERY_EVENT_TYPE;
const history: Recorded[] = EVERY_TYPE.flatMap((e, i) => record(TASK_ID, i, T0 + i, [e]));

describe('event codec', () => {
  test('covers every event type', () => {
    expect(new Set(EVERY_TYPE.map((e) => e.type))).toStrictEqual(
      new Set([
        'enqueued',
        'scheduled',
        'released',
        'leased',
        'attempted',
        'succeeded',
        'retry_scheduled',
        'failed',
        'lease_expired',
        'cancelled',
        'expunged',
        'deferred',
      ]),
    );
  });

  test.each(history.map((e) => [e.type, e] as const))('a %s event survives a round trip', (_, event) => {
    expect(decodeEvent(TASK_ID, encodeEvent(event))).toStrictEqual(event);
  });

  test('an event is one compact JSON line without the task id', () => {
    const [event] = record(TASK_ID, 6, T0, [retryScheduled(2, T0 + 1_000, 1_000)]);
    expect(encodeEvent(event as Recorded)).toBe(
      `{"t":"retry_scheduled","v":7,"at":${T0},"s":1,"d":{"attempt":2,"dueAt":${T0 + 1_000},"backoffMs":1000}}`,
    );
  });

  test('the task id comes from where the line is stored', () => {
    const [event] = record(TASK_ID, 0, T0, [enqueued()]);
    expect(decodeEvent('other-task', encodeEvent(event as Recorded)).taskId).toBe('other-task');
  });

  test('a history of newline-joined lines decodes to the events in order', () => {
    expect(decodeHistory(TASK_ID, history.map(encodeEvent).join('\n'))).toStrictEqual(history);
  });

  test('an empty history decodes to no events', () => {
    expect(decodeHistory(TASK_ID, '')).toStrictEqual([]);
  });

  test('an event with a newer schema than this build is rejected', () => {
    const [event] = record(TASK_ID, 0, T0, [enqueued()]);
    const newer = encodeEvent({ ...(event as Recorded), schema: EVENT_SCHEMA_VERSION + 1 });
    expect(() => decodeEvent(TASK_ID, newer)).toThrow(
      `event schema ${EVENT_SCHEMA_VERSION + 1} is newer than this build`,
    );
    expect(() => decodeHistory(TASK_ID, [encodeEvent(event as Recorded), newer].join('\n'))).toThrow(/newer/);
  });

  test('an event with the current schema is accepted as it is', () => {
    const [event] = record(TASK_ID, 0, T0, [enqueued()]);
    expect(decodeEvent(TASK_ID, encodeEvent(event as Recorded)).schema).toBe(EVENT_SCHEMA_VERSION);
  });
});

describe('request codec', () => {
  test('a request survives a round trip', () => {
    const request: HttpRequestSpec = {
      url: 'https://example.com/a?b=c',
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'X-Emoji': '✓' },
      body: '{"multi":"line\\ntext"}\n',
    };
    expect(decodeRequest(encodeRequest(request))).toStrictEqual(request);
  });

  test('an empty stored request decodes to none', () => {
    expect(decodeRequest('')).toBeNull();
  });
});
