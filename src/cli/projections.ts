import { ledgerStart } from '../adapters/redis/ledger.ts';
import { generationsOf, projectionLags } from '../projections/generations.ts';
import { PROJECTION_NAMES, PROJECTIONS } from '../projections/index.ts';
import { Projector } from '../projections/projector.ts';
import { type CliContext, progressBar, table, UsageError } from './context.ts';

export const projectorFor = (ctx: CliContext, only?: { name: string; gen: number }) =>
  new Projector({
    redis: ctx.redis,
    blocking: ctx.blocking,
    keys: ctx.keys,
    projections: PROJECTIONS,
    log: ctx.log,
    batchSize: ctx.config.PROJECTION_BATCH_SIZE,
    lockMs: ctx.config.PROJECTION_LOCK_SEC * 1000,
    ...(only ? { only } : {}),
  });

const namesFrom = (arg: string | undefined): string[] => {
  if (arg === undefined) return [...PROJECTION_NAMES];
  if (!PROJECTION_NAMES.includes(arg)) {
    throw new UsageError(`no projection named "${arg}"; the projections are: ${PROJECTION_NAMES.join(', ')}`);
  }
  return [arg];
};

/** `projections status`: generation, lag and events applied of each projection. */
export const status = async (ctx: CliContext) => {
  const lags = await projectionLags(ctx.redis, ctx.keys, PROJECTION_NAMES);
  ctx.out(
    table(
      ['projection', 'generation', 'lag', 'applied', 'rebuilding'],
      lags.map((l) => [
        l.name,
        l.generation,
        l.lag,
        l.applied,
        l.rebuilding ? `generation ${l.rebuilding.generation}, lag ${l.rebuilding.lag}` : '-',
      ]),
    ),
  );
};

/**
 * `projections rebuild [name]`: builds each named projection afresh from the start of the ledger in this process,
 * with a progress bar, while the service keeps running; reads switch to the new generation once it has caught up.
 */
export const rebuild = async (ctx: CliContext, name: string | undefined) => {
  if ((await ledgerStart(ctx.redis, ctx.keys)).trimmed) {
    ctx.out(
      'note: retention has trimmed the ledger in Redis, so the rebuilt projections will miss the per-day usage of the\n' +
        'trimmed days; to keep it, rebuild from the archive instead: task-dispatcher ledger replay FILE...',
    );
  }
  for (const n of namesFrom(name)) {
    const starter = projectorFor(ctx);
    const { gen, locked } = await starter.beginRebuild(n, { focus: true });
    const projector = locked ? starter : projectorFor(ctx, { name: n, gen });
    if (!locked) ctx.out(`${n}: generation ${gen} is already being rebuilt by another process; following it`);
    const interactive = process.stdout.isTTY === true;
    let lastPrinted = 0;
    for (;;) {
      const worked = locked ? await projector.step() : 0;
      const gens = await generationsOf(ctx.redis, ctx.keys, n);
      const [lag] = await projectionLags(ctx.redis, ctx.keys, [n]);
      if (gens.active === gen) {
        const line = `${n}: ${progressBar(lag?.applied ?? 0, lag?.applied ?? 0, 'events')} generation ${gen} serves reads`;
        ctx.out(interactive ? `\r${line}` : line);
        break;
      }
      const applied = lag?.rebuilding?.applied ?? 0;
      const total = applied + (lag?.rebuilding?.lag ?? 0);
      if (interactive || Date.now() - lastPrinted > 2000) {
        const line = `${n}: ${progressBar(applied, total, 'events')}`;
        if (interactive) process.stdout.write(`\r${line}`);
        else ctx.out(line);
        lastPrinted = Date.now();
      }
      if (worked === 0) await new Promise((r) => setTimeout(r, locked ? 50 : 500));
    }
    await projector.stop();
  }
};

/** `projections run`: only the projectors, in the foreground, until SIGTERM or SIGINT. */
export const run = async (ctx: CliContext) => {
  const projector = projectorFor(ctx);
  projector.start();
  ctx.out(`projecting ${PROJECTION_NAMES.join(', ')} (pid ${process.pid}); stop with SIGTERM or Ctrl-C`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await projector.stop();
};
