import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  compareLedgerIds,
  type LedgerEvent,
  ledgerEvent,
  ledgerIdTime,
  ledgerStart,
  readLedger,
} from '../adapters/redis/ledger.ts';
import { encodeArchiveLine, mergeArchives } from '../adapters/redis/ledger-archive.ts';
import { parseRfc3339 } from '../domain/time/rfc3339.ts';
import { generationsOf, projectionLags } from '../projections/generations.ts';
import { PROJECTION_NAMES } from '../projections/index.ts';
import { type CliContext, progressBar, UsageError } from './context.ts';
import { projectorFor } from './projections.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const events = (n: number) => `${n.toLocaleString('en-US')} event${n === 1 ? '' : 's'}`;

/** `--since`/`--until`: an RFC 3339 time (`2026-11-27T00:00:00Z`), or a date alone for its UTC midnight. */
const parseTime = (name: string, value: string | undefined): number => {
  if (value === undefined) throw new UsageError(`ledger export needs --${name} <RFC 3339 time>`);
  const ms = parseRfc3339(value, { dateOnly: true });
  if (ms === null) {
    throw new UsageError(`--${name} "${value}" is not an RFC 3339 time; write it as 2026-11-27T00:00:00Z`);
  }
  return ms;
};

const parseExportArgs = (args: string[]) => {
  let values: { since?: string | undefined; until?: string | undefined; out?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { since: { type: 'string' }, until: { type: 'string' }, out: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`ledger export: ${(err as Error).message}`);
  }
  const since = parseTime('since', values.since);
  const until = parseTime('until', values.until);
  if (until <= since) throw new UsageError(`--until (${iso(until)}) must be after --since (${iso(since)})`);
  if (values.out === '') throw new UsageError('--out needs a file name');
  return { since, until, out: values.out };
};

/**
 * `ledger export --since T --until T [--out FILE]`: the ledger entries in Redis added at or after `since` and
 * before `until`, in the archive's NDJSON format, to stdout or FILE. Progress and the summary go to stderr.
 */
export const exportLedger = async (ctx: CliContext, args: string[]) => {
  const { since, until, out } = parseExportArgs(args);
  const sink = out === undefined ? stdoutSink() : await fileSink(out);
  const show = progressLine(process.stderr);
  let count = 0;
  for await (const page of readLedger(ctx.redis, ctx.keys, { start: `${since}-0`, before: `${until}-0` })) {
    await sink.write(`${page.map(encodeArchiveLine).join('\n')}\n`);
    count += page.length;
    const upTo = ledgerIdTime((page.at(-1) as LedgerEvent).ledgerId);
    const share = Math.min(1, (upTo - since) / Math.max(1, Math.min(until, Date.now()) - since));
    show(`exporting: ${Math.round(share * 100)}% of the time range, ${events(count)}`);
  }
  await sink.close();
  show(`exported ${events(count)} added from ${iso(since)} until ${iso(until)} to ${out ?? 'stdout'}`, true);
  const start = await ledgerStart(ctx.redis, ctx.keys);
  if (start.trimmed && start.firstId !== null && ledgerIdTime(start.firstId) > since) {
    process.stderr.write(
      `note: the ledger in Redis starts at ${iso(ledgerIdTime(start.firstId))}; older events were trimmed by retention and are only in the archive (LEDGER_ARCHIVE_DIR)\n`,
    );
  }
};

type Sink = Readonly<{ write: (text: string) => Promise<void>; close: () => Promise<void> }>;

const stdoutSink = (): Sink => ({
  write: async (text) => {
    if (!process.stdout.write(text)) await once(process.stdout, 'drain');
  },
  close: async () => {},
});

/** Opened before anything is read, so a bad path fails at once; every write is awaited, so its error surfaces. */
const fileSink = async (path: string): Promise<Sink> => {
  const file = await open(path, 'w');
  return {
    write: async (text) => {
      await file.write(text);
    },
    close: () => file.close(),
  };
};

/**
 * `ledger replay FILE...`: rebuilds every projection from archive files, then from the ledger in Redis after
 * them, so the read models count the history that retention trimmed from Redis. Reads switch over to the new
 * generations once they have caught up, as with `projections rebuild`.
 */
export const replayLedger = async (ctx: CliContext, files: string[]) => {
  if (files.length === 0) {
    throw new UsageError('ledger replay needs at least one FILE: the ledger-*.ndjson files of LEDGER_ARCHIVE_DIR');
  }
  const option = files.find((f) => f.startsWith('-'));
  if (option) throw new UsageError(`ledger replay takes only files, not ${option}`);

  // read through once before touching Redis: every line must be readable, and the count drives the progress bar
  let total = 0;
  let scanned: LedgerEvent | null = null;
  for await (const e of mergeArchives(files)) {
    total++;
    scanned = e;
  }
  if (!scanned) throw new Error(`${files.join(', ')}: no events in the files; nothing to replay`);
  await checkFilesJoinLedger(ctx, scanned);
  for (const name of PROJECTION_NAMES) {
    const { building } = await generationsOf(ctx.redis, ctx.keys, name);
    if (building !== null) {
      throw new Error(
        `${name}: generation ${building} is being rebuilt; wait until \`projections status\` shows no rebuild, then replay again`,
      );
    }
  }

  const projector = projectorFor(ctx);
  try {
    const gens = new Map<string, number>();
    for (const name of PROJECTION_NAMES) {
      const { gen, locked } = await projector.beginRebuild(name);
      if (!locked) throw new Error(`${name}: another process took generation ${gen} first; ${STARTED_CONTINUE}`);
      gens.set(name, gen);
    }
    // from here on no process trims the ledger (the new generations have applied nothing); check again for a trim
    // that happened since the first check
    await checkFilesJoinLedger(ctx, scanned, STARTED_CONTINUE);

    const show = progressLine(process.stdout);
    let replayed = 0;
    let batch: LedgerEvent[] = [];
    const apply = async () => {
      for (const [name, gen] of gens) await projector.replay(name, gen, batch);
      replayed += batch.length;
      batch = [];
      show(`replaying the archive: ${progressBar(replayed, Math.max(total, replayed), 'events')}`);
    };
    for await (const e of mergeArchives(files)) {
      batch.push(e);
      if (batch.length >= ctx.config.PROJECTION_BATCH_SIZE) await apply();
    }
    await apply();
    show(`replaying the archive: ${progressBar(replayed, replayed, 'events')}`, true);

    await catchUpWithLedger(ctx, projector, gens, show);
    ctx.out(`replayed ${events(replayed)} from ${files.length} file(s), then the ledger in Redis`);
    for (const [name, gen] of gens) ctx.out(`${name}: generation ${gen} serves reads`);
    ctx.out(
      'The read models now count the archived history too: per-day usage (enqueued, attempts, succeeded, failed, ' +
        'latency) covers the archived days again, not only the events still in Redis. Tasks that retention expunged ' +
        'stay out of the task lists.',
    );
  } finally {
    await projector.stop();
  }
};

const STARTED_CONTINUE =
  'the generations started so far continue as a plain rebuild from the ledger in Redis; replay again once they serve reads';

/**
 * Refuses files that do not reach the ledger in Redis. Retention trims to the last archived entry and keeps it, so
 * a complete archive reaches at least the oldest entry still in Redis; that entry must then be the same event.
 */
const checkFilesJoinLedger = async (ctx: CliContext, last: LedgerEvent, meanwhile?: string) => {
  const start = await ledgerStart(ctx.redis, ctx.keys);
  const oldest = start.firstId ?? start.lastAddedId;
  if (start.trimmed && oldest !== null && compareLedgerIds(last.ledgerId, oldest) < 0) {
    throw new Error(
      `the files end at ${last.ledgerId} (${iso(ledgerIdTime(last.ledgerId))}), but the ledger in Redis was trimmed and now starts at ${oldest} (${iso(ledgerIdTime(oldest))}): the events in between are in neither. Pass every ledger-*.ndjson file of LEDGER_ARCHIVE_DIR, the newest included` +
        (meanwhile ? `. The ledger was trimmed while replay started: ${meanwhile}` : ''),
    );
  }
  const [entry] = (await ctx.redis.xrange(ctx.keys.events, last.ledgerId, last.ledgerId)) as [string, string[]][];
  const inRedis = entry ? ledgerEvent(entry[0], entry[1]) : null;
  const foreign = inRedis
    ? inRedis.taskId !== last.taskId || inRedis.version !== last.version
    : compareLedgerIds(last.ledgerId, start.lastAddedId ?? '') > 0;
  if (foreign) {
    throw new Error(
      `the files do not come from this ledger (${ctx.keys.events}): their last event ${last.ledgerId} is not the one Redis has there; check REDIS_URL and REDIS_PREFIX`,
    );
  }
};

/** Lets the new generations apply the ledger in Redis after the archive, until each serves reads. */
const catchUpWithLedger = async (
  ctx: CliContext,
  projector: ReturnType<typeof projectorFor>,
  gens: ReadonlyMap<string, number>,
  show: (line: string, final?: boolean) => void,
) => {
  for (;;) {
    const worked = await projector.step();
    let behind = 0;
    let serving = 0;
    for (const [name, gen] of gens) {
      const { active, building } = await generationsOf(ctx.redis, ctx.keys, name);
      if (active === gen) serving++;
      else if (building !== gen) throw new Error(`${name}: generation ${gen} was dropped by another process`);
      else behind += (await projectionLags(ctx.redis, ctx.keys, [name]))[0]?.rebuilding?.lag ?? 0;
    }
    if (serving === gens.size) break;
    show(`catching up with the ledger in Redis: ${events(behind)} to go`);
    if (worked === 0) await new Promise((r) => setTimeout(r, 50));
  }
  show('caught up with the ledger in Redis', true);
};

/** Progress lines: rewritten in place on a terminal, otherwise one every 2 s, and always the final one. */
const progressLine = (stream: NodeJS.WriteStream) => {
  const interactive = stream.isTTY === true;
  let lastAt = 0;
  let lastLine = '';
  return (line: string, final = false) => {
    if (line === lastLine || (!final && Date.now() - lastAt < (interactive ? 100 : 2000))) return;
    lastAt = Date.now();
    lastLine = line;
    stream.write(interactive ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
};
