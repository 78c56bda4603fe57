import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, type Redis } from 'ioredis';

export type Script = Readonly<{ name: string; source: string; sha1: string }>;

const load = (name: string): Script => {
  const source = readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8');
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') };
};

export const scripts = {
  commit: load('commit'),
  lease: load('lease'),
  reclaim: load('reclaim'),
  extendLeases: load('extend-leases'),
  due: load('due'),
  projectionApply: load('projection-apply'),
  expunge: load('expunge'),
  lock: load('lock'),
  projectionGeneration: load('projection-generation'),
  rateWindow: load('rate-window'),
  clientPut: load('client-put'),
  clientDelete: load('client-delete'),
  clientAuth: load('client-auth'),
  unpark: load('unpark'),
} as const;

/** EVALSHA, falling back to EVAL once when the server does not have the script cached yet (NOSCRIPT). */
export const runScript = async (
  redis: Redis,
  script: Script,
  keys: readonly string[],
  argv: readonly (string | number)[],
): Promise<unknown> => {
  // one array argument, not spread: a projection batch can pass more values than a call may take arguments
  // (PROJECTION_BATCH_SIZE=5000 overflowed the stack); ioredis flattens it
  const args = [keys.length, ...keys, ...argv];
  try {
    return await redis.call('EVALSHA', [script.sha1, ...args]);
  } catch (err) {
    if (!String(err).includes('NOSCRIPT')) throw err;
    return redis.call('EVAL', [script.source, ...args]);
  }
};

/**
 * runScript with the call's arguments laid out already: `args` is [numkeys, ...keys, ...argv], as strings.
 * `ownCommand` sends it as a command of its own instead of through ioredis' auto-pipeline, which builds a Pipeline
 * per call and copies every argument twice more: for a call that is a batch already (CommitBatcher). Such a
 * command is written at once, so it may reach Redis before auto-pipelined commands issued earlier that are still
 * waiting for their turn: only for writes whose order against those does not matter.
 */
export const runScriptArgs = async (
  redis: Redis,
  script: Script,
  args: string[],
  ownCommand: boolean,
): Promise<unknown> => {
  const send = (name: 'evalsha' | 'eval', first: string) =>
    ownCommand
      ? redis.sendCommand(new Command(name, [first, args], { replyEncoding: 'utf8' }))
      : redis.call(name, [first, ...args]);
  try {
    return await send('evalsha', script.sha1);
  } catch (err) {
    if (!String(err).includes('NOSCRIPT')) throw err;
    return send('eval', script.source);
  }
};
