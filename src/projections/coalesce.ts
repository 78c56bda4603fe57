import type { Write } from './projection.ts';

/** One Redis command of a batch: a command name, a key, then its arguments. */
export type Command = (string | number)[];

/**
 * The writes of a batch as few commands: writes of the same command on the same key become one command
 * (`ZADD k 0 a 0 b`, `HDEL k a b`), which costs Redis one command call and the AOF one entry instead of one per
 * member. A write joins an earlier command only when no write before it touched the same member of that key, so
 * the outcome is that of applying the writes one by one in order. HINCRBY counts one field per command, and is
 * left as it is. A command holds at most MAX_MEMBERS members; the next write of its kind starts another.
 */
/**
 * Members per merged command. projection-apply.lua passes each command through Lua's `unpack`, which fails past
 * about 8,000 values ("too many results to unpack"); a batch may hold 5,000 new tasks of one queue.
 */
export const MAX_MEMBERS = 1000;

export const coalesce = (writes: readonly Write[]): Command[] => {
  const commands: Command[] = [];
  /** Per key: the members touched so far, and the command each kind of write may still join. */
  const byKey = new Map<string, { touched: Set<string>; open: Map<string, Command> }>();
  for (const w of writes) {
    const [name, key] = w;
    let state = byKey.get(key);
    if (!state) {
      state = { touched: new Set(), open: new Map() };
      byKey.set(key, state);
    }
    const member = String(name === 'ZADD' ? w[3] : w[2]);
    const joinable = name === 'HINCRBY' ? undefined : state.open.get(name);
    const full = joinable !== undefined && joinable.length - 2 >= MAX_MEMBERS * (w.length - 2);
    const command = joinable && !full && !state.touched.has(member) ? joinable : [name, key];
    if (command !== joinable) {
      commands.push(command);
      if (name !== 'HINCRBY') state.open.set(name, command);
    }
    for (let i = 2; i < w.length; i++) command.push(w[i] as string | number);
    state.touched.add(member);
  }
  return commands;
};
