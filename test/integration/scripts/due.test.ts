import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { enqueue } from '../../support/commits.ts';
import { dueSet } from '../../support/redis-state.ts';
import { T0, testStore } from '../../support/store.ts';

let ctx: ReturnType<typeof testStore>;

beforeEach(() => {
  ctx = testStore();
});
afterEach(() => ctx.close());

/** Three scheduled tasks, due at T0+1s, T0+2s and T0+3s. */
const seed = async () => ({
  one: await enqueue(ctx.store, 'task-1', { delayMs: 1_000 }),
  two: await enqueue(ctx.store, 'task-2', { delayMs: 2_000, queue: 'critical' }),
  three: await enqueue(ctx.store, 'task-3', { delayMs: 3_000 }),
});

describe('due script', () => {
  test('returns the tasks due by now, earliest first, with their snapshots, and the next due time', async () => {
    const { one, two } = await seed();

    const { tasks, next } = await ctx.store.due(T0 + 2_000, 10);

    expect(tasks.map((s) => s.task.id)).toEqual(['task-1', 'task-2']);
    expect(tasks[0]?.task).toEqual(one.after);
    expect(tasks[0]?.events).toEqual(one.events);
    expect(tasks[1]?.task).toEqual(two.after);
    expect(tasks[1]?.task).toMatchObject({ status: 'scheduled', version: 2, queue: 'critical', dueAt: T0 + 2_000 });
    expect(next).toBe(T0 + 3_000);
  });

  test('respects the limit; next is the first due time after now, not the first left out', async () => {
    await seed();

    const { tasks, next } = await ctx.store.due(T0 + 2_500, 1);

    expect(tasks.map((s) => s.task.id)).toEqual(['task-1']);
    expect(next).toBe(T0 + 3_000);
  });

  test('next is null when nothing falls due after now', async () => {
    await seed();

    const { tasks, next } = await ctx.store.due(T0 + 3_000, 2);

    expect(tasks.map((s) => s.task.id)).toEqual(['task-1', 'task-2']);
    expect(next).toBeNull();
  });

  test('before anything is due it returns no tasks and the earliest due time', async () => {
    await seed();

    expect(await ctx.store.due(T0 + 999, 10)).toEqual({ tasks: [], next: T0 + 1_000 });
  });

  test('an empty due set returns no tasks and no next time', async () => {
    expect(await ctx.store.due(T0, 10)).toEqual({ tasks: [], next: null });
  });

  test('reading leaves the due set as it was', async () => {
    await seed();
    const before = await dueSet(ctx.redis, ctx.keys);

    await ctx.store.due(T0 + 5_000, 10);

    expect(await dueSet(ctx.redis, ctx.keys)).toEqual(before);
    expect(before.map((m) => m.taskId)).toEqual(['task-1', 'task-2', 'task-3']);
  });

  test('a member without a task hash comes back as a new task, so the promoter can drop it', async () => {
    await ctx.redis.zadd(ctx.keys.due, T0, 'ghost');

    const { tasks } = await ctx.store.due(T0, 10);

    expect(tasks).toEqual([
      { task: expect.objectContaining({ id: 'ghost', status: 'new', version: 0 }), events: [], request: null },
    ]);
  });
});
