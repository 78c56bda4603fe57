import { describe, expect, test } from 'vitest';
import { isTaskId, newTaskId } from '../../../src/api/task-id.ts';
import { T0 } from '../../support/given.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newTaskId', () => {
  test('is a UUIDv7: version 7, RFC 4122 variant, lower-case hex', () => {
    for (let i = 0; i < 200; i++) expect(newTaskId(T0 + i)).toMatch(UUID_V7);
  });

  test('starts with the creation time in milliseconds, as 48 bits of hex', () => {
    const id = newTaskId(T0);
    expect(id.slice(0, 13)).toBe('01941f29-7c00');
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(T0);
  });

  test('ids from later milliseconds sort after earlier ones', () => {
    const ids = [0, 1, 2, 1_000, 86_400_000, 365 * 86_400_000].map((dt) => newTaskId(T0 + dt));
    expect([...ids].sort()).toStrictEqual(ids);
  });

  test('two ids from the same millisecond differ', () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => newTaskId(T0)));
    expect(ids.size).toBe(1_000);
  });

  test('its own ids are valid task ids', () => {
    expect(isTaskId(newTaskId(T0))).toBe(true);
  });
});

describe('isTaskId', () => {
  test.each(['a', 'task_1', 'ABC-def-123', 'x'.repeat(500)])('accepts %j', (id) => {
    expect(isTaskId(id)).toBe(true);
  });

  test.each(['', 'x'.repeat(501), 'a b', '../etc', 'a/b', 'task.1', 'a:b', 'tâche', 'a\n'])('rejects %j', (id) => {
    expect(isTaskId(id)).toBe(false);
  });
});
