import { ClientRegistry } from '../adapters/redis/client-registry.ts';
import {
  CLIENT_ID_EXPECTED,
  type Client,
  isClientId,
  parseScopeArgument,
  tierExpected,
} from '../domain/client/client.ts';
import type { Scope } from '../domain/client/scopes.ts';
import { parseTiers } from '../domain/client/tier.ts';
import { type CliContext, table, UsageError } from './context.ts';

const registryOf = (ctx: CliContext) => new ClientRegistry(ctx.redis, ctx.keys);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const clientTable = (clients: readonly Client[]) =>
  table(
    ['client', 'tier', 'enabled', 'scopes', 'created', 'updated'],
    clients.map((c) => [
      c.clientId,
      c.tier,
      c.enabled ? 'yes' : 'no',
      c.scopes.join(','),
      iso(c.createdAt),
      iso(c.updatedAt),
    ]),
  );

/** The key alone on the last line, so that a script can take it with `tail -n 1`. */
const showKey = (ctx: CliContext, key: string) =>
  ctx.out(
    '\nAPI key, shown only this once (only its SHA-256 digest is stored); send it as Authorization: Bearer <key>\n' +
      key,
  );

/** `<id>` and `--name value` options; anything else is a usage error. */
const parseArgs = (args: readonly string[], options: readonly string[]) => {
  const [id, ...rest] = args;
  if (id === undefined || id.startsWith('--')) throw new UsageError('name the client: <id>');
  if (!isClientId(id)) throw new UsageError(`client id "${id}": expected ${CLIENT_ID_EXPECTED}`);
  const values = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split(/=(.*)/s, 2) : [arg];
    if (!name || !options.includes(name)) {
      throw new UsageError(
        `unexpected argument "${arg}"${options.length ? ` (options: --${options.join(', --')})` : ''}`,
      );
    }
    const value = inline ?? rest[++i];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    values.set(name, value);
  }
  return { id, values };
};

/** `clients list`: every registered client (never a key). */
export const list = async (ctx: CliContext) => {
  const clients = await registryOf(ctx).list();
  ctx.out(
    clients.length === 0
      ? 'no clients registered; create one: task-dispatcher clients create <id> [--tier t] [--scopes enqueue,read]'
      : clientTable(clients),
  );
};

/**
 * `clients create <id> [--tier t] [--scopes a,b]`: registers a new client (tier `free` if TIERS has it, else the
 * first tier; scopes enqueue,read) and prints its API key once.
 */
export const create = async (ctx: CliContext, args: readonly string[]) => {
  const { id, values } = parseArgs(args, ['tier', 'scopes']);
  const tierNames = [...parseTiers(ctx.config.TIERS).keys()];
  const tier = values.get('tier') ?? (tierNames.includes('free') ? 'free' : (tierNames[0] as string));
  if (!tierNames.includes(tier)) throw new UsageError(`--tier "${tier}": expected ${tierExpected(tierNames)}`);
  let scopes: Scope[] | undefined;
  const rawScopes = values.get('scopes');
  if (rawScopes !== undefined) {
    const parsed = parseScopeArgument(rawScopes);
    if (!parsed.ok) throw new UsageError(`--scopes "${rawScopes}": expected ${parsed.errors[0]?.expected}`);
    scopes = parsed.value;
  }
  const result = await registryOf(ctx).put({ clientId: id, tier, ...(scopes ? { scopes } : {}) }, 'create');
  if (result.outcome === 'exists') {
    throw new Error(`client ${id} already exists; issue a new key with: task-dispatcher clients rotate ${id}`);
  }
  if (result.outcome !== 'created' || result.apiKey === null) throw new Error(`client ${id} was not created`);
  ctx.out(clientTable([result.client]));
  showKey(ctx, result.apiKey);
};

/** `clients rotate <id>`: a new key, printed once; the old one stops working at once. */
export const rotate = async (ctx: CliContext, args: readonly string[]) => {
  const { id } = parseArgs(args, []);
  const rotated = await registryOf(ctx).rotate(id);
  if (!rotated) throw new Error(`no client ${id}`);
  ctx.out(clientTable([rotated.client]));
  showKey(ctx, rotated.apiKey);
};

/** `clients enable <id>` / `clients disable <id>`: a disabled client's key answers 403 on every /v1 call. */
export const setEnabled = async (ctx: CliContext, args: readonly string[], enabled: boolean) => {
  const { id } = parseArgs(args, []);
  const client = await registryOf(ctx).setEnabled(id, enabled);
  if (!client) throw new Error(`no client ${id}`);
  ctx.out(clientTable([client]));
};

/** `clients delete <id>`: the client and its key are gone (401 from then on); its tasks stay. */
export const remove = async (ctx: CliContext, args: readonly string[]) => {
  const { id } = parseArgs(args, []);
  if (!(await registryOf(ctx).remove(id))) throw new Error(`no client ${id}`);
  ctx.out(`client ${id} deleted; its API key no longer works`);
};
