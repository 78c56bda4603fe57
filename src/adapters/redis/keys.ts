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
    /** Names of the paused queues: workers lease nothing from them. */
    paused: `${base}:paused`,
    /** Pub/sub channel: a task became the earliest due one. */
    wake: `${base}:wake`,
    /** Consumer group of workers on every ready stream. */
    workerGroup: 'workers',
    /** A projection's generations: which one serves reads (`active`) and which one is being rebuilt. */
    projection: (name: string) => `${base}:proj:${name}`,
    /** Only the holder of this lock applies events to that generation. */
    projectionLock: (name: string, gen: number) => `${base}:proj:${name}:lock:${gen}`,
    /** Every read-model key of one generation starts with this, so a generation is dropped by prefix. */
    projectionGen: (name: string, gen: number) => `${base}:proj:${name}:g${gen}:`,
    /** The last ledger id written to LEDGER_ARCHIVE_DIR. */
    archive: `${base}:archive`,
    /** Held by the one process that runs retention at a time. */
    retentionLock: `${base}:retention:lock`,
    /** A registered client: hash of tier, enabled ('1'|'0'), scopes (comma-separated), key digest, times. */
    client: (clientId: string) => `${base}:client:${clientId}`,
    clientPrefix: `${base}:client:`,
    /** Ids of every registered client. */
    clients: `${base}:clients`,
    /** SHA-256 hex digest of an API key → the client id it belongs to. */
    apiKey: (digest: string) => `${base}:apikey:${digest}`,
    /** One client's accepted enqueues of the last minute (sliding-window log). */
    rateWindow: (clientId: string) => `${base}:rate:${clientId}`,
    /** client id → dispatches of its tasks in flight (entries in the workers' pending lists), over all queues. */
    inFlight: `${base}:inflight`,
    /** A client's tasks that reached a worker while the client was at its in-flight limit: `<queue> <task id>`. */
    parked: (clientId: string) => `${base}:parked:${clientId}`,
    parkedPrefix: `${base}:parked:`,
    /** Clients with parked tasks. */
    parkedClients: `${base}:parked-clients`,
  };
};
