#!/usr/bin/env node
import { closeContext, openContext, UsageError } from './cli/context.ts';
import * as ledger from './cli/ledger.ts';
import * as projections from './cli/projections.ts';

const USAGE = `usage: task-dispatcher <command>

  projections status              lag and generation of every projection
  projections rebuild [name]      rebuild one projection (or all) from the ledger, with a progress bar
  projections run                 run only the projectors, until SIGTERM
  ledger export --since T --until T [--out FILE]
                                  the ledger entries added in [since, until) as NDJSON (RFC 3339 times),
                                  to stdout or FILE
  ledger replay FILE [FILE...]    rebuild every projection from archive files (ledger-*.ndjson), then
                                  from the ledger in Redis, so the read models count the archived history

Configuration comes from the same environment variables as the service (REDIS_URL, REDIS_PREFIX, ...).`;

type Command = (ctx: Awaited<ReturnType<typeof openContext>>, args: string[]) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  'projections status': (ctx) => projections.status(ctx),
  'projections rebuild': (ctx, args) => projections.rebuild(ctx, args[0]),
  'projections run': (ctx) => projections.run(ctx),
  'ledger export': (ctx, args) => ledger.exportLedger(ctx, args),
  'ledger replay': (ctx, args) => ledger.replayLedger(ctx, args),
};

const main = async (argv: string[]) => {
  const key = argv.slice(0, 2).join(' ');
  const command = COMMANDS[key];
  if (!command) {
    console.error(argv.length === 0 || argv[0] === '--help' ? USAGE : `unknown command "${key}"\n\n${USAGE}`);
    return argv[0] === '--help' ? 0 : 2;
  }
  let ctx: Awaited<ReturnType<typeof openContext>>;
  try {
    ctx = await openContext();
  } catch (err) {
    console.error(`${(err as Error).message}\nsee the configuration table in README.md`);
    return 1;
  }
  try {
    await command(ctx, argv.slice(2));
    return 0;
  } catch (err) {
    console.error(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : `failed: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    await closeContext(ctx);
  }
};

process.exitCode = await main(process.argv.slice(2));
