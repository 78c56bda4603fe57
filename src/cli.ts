#!/usr/bin/env node
import * as clients from './cli/clients.ts';
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
  clients list                    the registered API clients: tier, enabled, scopes (never their keys)
  clients create <id> [--tier t] [--scopes a,b]
                                  register a client (unless given: tier free, or the first in TIERS; scopes
                                  enqueue,read) and print its API key, once
  clients rotate <id>             print a new API key for the client; the old one stops working
  clients disable <id>            its key answers 403 until enabled again
  clients enable <id>
  clients delete <id>             remove the client; its key stops working (its tasks stay)

Configuration comes from the same environment variables as the service (REDIS_URL, REDIS_PREFIX, ...).`;

type Command = (ctx: Awaited<ReturnType<typeof openContext>>, args: string[]) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  'projections status': (ctx) => projections.status(ctx),
  'projections rebuild': (ctx, args) => projections.rebuild(ctx, args[0]),
  'projections run': (ctx) => projections.run(ctx),
  'ledger export': (ctx, args) => ledger.exportLedger(ctx, args),
  'ledger replay': (ctx, args) => ledger.replayLedger(ctx, args),
  'clients list': (ctx) => clients.list(ctx),
  'clients create': (ctx, args) => clients.create(ctx, args),
  'clients rotate': (ctx, args) => clients.rotate(ctx, args),
  'clients disable': (ctx, args) => clients.setEnabled(ctx, args, false),
  'clients enable': (ctx, args) => clients.setEnabled(ctx, args, true),
  'clients delete': (ctx, args) => clients.remove(ctx, args),
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
