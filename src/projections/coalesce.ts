import type { Write } from './projection.ts';

/** One Redis command of a batch: a command name, a key, then its arguments. */
export type Command = (string | number)[];

/** The member (field) a write touches in its key. */
const memberOf = (w: Write): string => String(w[0] === 'ZADD' ? w[3] : w[2]);

/** How many arguments after the key one write adds to a merged command (HINCRBY is never merged). */
const tail = (w: Write): (string | number)[] => w.slice(2) as (string | number)[];

/**
 * The writes of a batch as few commands: writes of the same command on the same key become one command
 * (`ZADD k 0 a 0 b`, `HDEL k a b`), which costs Redis one command call and the AOF one entry instead of one per
 * member. A write joins an earlier command only when no write before it touched the same member of that key, so
 * the outcome is that of applying the writes one by one in order. HINCRBY counts one field per command, and is
 * left as it is.
 */
export const coalesce = (writes: readonly Write[]): Command[] => {
  const commands: Command[] = [];
  /** The command that writes of this kind on this key may still join. */
  const open = new Map<string, Command>();
  /** Members of each key touched so far. */
  const touched = new Map<string, Set<string>>();
  for (const w of writes) {
    const key = w[1];
    const member = memberOf(w);
    const members = touched.get(key) ?? new Set<string>();
    touched.set(key, members);
    const slot = `${w[0]} ${key}`;
    const joinable = w[0] !== 'HINCRBY' ? open.get(slot) : undefined;
    if (joinable && !members.has(member)) {
      joinable.push(...tail(w));
    } else {
      const command: Command = [w[0], key, ...tail(w)];
      commands.push(command);
      if (w[0] !== 'HINCRBY') open.set(slot, command);
    }
    members.add(member);
  }
  return commands;
};
