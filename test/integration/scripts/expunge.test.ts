import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { encodeEvent } from '../../../src/adapters/redis/codec.ts';
import { runScript, scripts } from '../../../src/adapters/redis/scripts/index.ts';
import { decide } from '../../../src/domain/task/decide.ts';
import { record } from '../../../src/domain/task/events.ts';
import type { Task } from '../../../src/domain/task/task.ts';
import { decided, enqueue } from '../../support/commits.ts';
import { ledger, taskHash } from '../../support/redis-state.ts';
import { T0, testStore } from '../../support/store.ts';

/** expunge: per task, checked against the version it was decided on, append the expunged event and delete the task. */
let ctx: ReturnType<typeof testStore>;

beforeEach(async () => {
  ctx = testStore();
  await ctx.store.ensureQueues(['default']);
});
afterEach(() => ctx.close());

/** A task enqueued and cancelled through the commit script: finished, at version 2. */
const cancelledTask = async (taskId: string): Promise<Task> => {
  const { after: pending } = await enqueue(ctx.store, taskId);
  const cancel = decided(pending, { type: 'CancelTask', data: { by: 'api' } }, T0 + 10);
  expect(await ctx.store.commit([cancel.commit])).toEqual([{ kind: 'ok' }]);
  return cancel.after;
};

/** The expunged event decided on `task`, as the script's arguments for it: id, expected version, event line. */
const expungeArgs = (task: Task, expected = task.version) => {
  const [event] = record(
    task.id,
    task.version,
    T0 + 7 * 86_400_000,
    decide({ type: 'ExpungeTask', data: { by: 'retention' } }, task, 0),
  );
  if (!event) throw new Error('no event decided');
  return { line: encodeEvent(event), argv: [task.id, expected, encodeEvent(event)] };
};

const expunge = (tasks: readonly { id: string; argv: (string | number)[] }[]) =>
  runScript(
    ctx.redis,
    scripts.expunge,
    [ctx.keys.events, ...tasks.map((t) => ctx.keys.task(t.id))],
    tasks.flatMap((t) => t.argv),
  );

describe('expunge script', () => {
  test('OK: appends the expunged event to the ledger, then deletes the task hash', async () => {
    const task = await cancelledTask('task-a');
    const before = await ledger(ctx.redis, ctx.keys);
    const { argv, line } = expungeArgs(task);

    expect(await expunge([{ id: task.id, argv }])).toEqual(['OK']);

    const after = await ledger(ctx.redis, ctx.keys);
    expect(after.slice(0, -1)).toEqual(before);
    expect(after.at(-1)).toEqual({ entryId: expect.stringMatching(/^\d+-\d+$/), id: 'task-a', e: line });
    expect(JSON.parse(line)).toMatchObject({ t: 'expunged', v: 3, d: { status: 'cancelled', queue: 'default' } });
    expect(await ctx.redis.exists(ctx.keys.task('task-a'))).toBe(0);
  });

  test('CONFLICT: a version other than the current one appends nothing and deletes nothing', async () => {
    const task = await cancelledTask('task-a');
    const hash = await taskHash(ctx.redis, ctx.keys, 'task-a');
    const before = await ledger(ctx.redis, ctx.keys);

    for (const stale of [1, 3]) {
      expect(await expunge([{ id: task.id, argv: expungeArgs(task, stale).argv }])).toEqual(['CONFLICT:2']);
    }

    expect(await ledger(ctx.redis, ctx.keys)).toEqual(before);
    expect(await taskHash(ctx.redis, ctx.keys, 'task-a')).toEqual(hash);
  });

  test('a task already expunged (or never there) conflicts at version 0: running retention twice is harmless', async () => {
    const task = await cancelledTask('task-a');
    const { argv } = expungeArgs(task);
    expect(await expunge([{ id: task.id, argv }])).toEqual(['OK']);
    const before = await ledger(ctx.redis, ctx.keys);

    expect(await expunge([{ id: task.id, argv }])).toEqual(['CONFLICT:0']);
    expect(await ledger(ctx.redis, ctx.keys)).toEqual(before);
  });

  test('each task of a call is checked on its own: a conflict does not stop the others', async () => {
    const a = await cancelledTask('task-a');
    const b = await cancelledTask('task-b');
    const c = await cancelledTask('task-c');
    const before = await ledger(ctx.redis, ctx.keys);
    const [ea, eb, ec] = [expungeArgs(a), expungeArgs(b, 1), expungeArgs(c)];

    expect(
      await expunge([
        { id: 'task-a', argv: ea.argv },
        { id: 'task-b', argv: eb.argv },
        { id: 'task-c', argv: ec.argv },
      ]),
    ).toEqual(['OK', 'CONFLICT:2', 'OK']);

    expect((await ledger(ctx.redis, ctx.keys)).slice(before.length).map(({ id, e }) => ({ id, e }))).toEqual([
      { id: 'task-a', e: ea.line },
      { id: 'task-c', e: ec.line },
    ]);
    expect(await ctx.redis.exists(ctx.keys.task('task-a'), ctx.keys.task('task-c'))).toBe(0);
    expect((await taskHash(ctx.redis, ctx.keys, 'task-b')).v).toBe('2');
  });
});
