/**
 * Every Redis key comes from here. All keys of one partition share the `{p0}` hash tag, so every script's
 * keys live in one Redis Cluster slot.
 */
export type Keys = ReturnType<typeof redisKeys>;

export const redisKeys = (prefix = 'td', partition = 'p0') => {
  const base = `${prefix}:{${partition}}`;
  return {
    taskPrefix: `${base}:task:`,
    task: (taskId: string) => `${base}:task:${taskId}`,
    /** The ledger: every event of every task in this partition, in commit order. */
    events: `${base}:events`,
    ready: (queue: string) => `${base}:ready:${queue}`,
    due: `${base}:due`,
    /** Pub/sub channel: a task became the earliest due one. */
    wake: `${base}:wake`,
    /** Consumer group of workers on every ready stream. */
    workerGroup: 'workers',
  };
};
