import type { TaskCommit } from './placement.ts';
import type { CommitResult, RedisTaskStore } from './task-store.ts';

type Pending = { commit: TaskCommit; resolve: (r: CommitResult) => void; reject: (e: unknown) => void };

/**
 * Commits handed in during the same turn of the event loop (enqueues from concurrent requests, attempts
 * that finished together) go to Redis as one script call: one round trip instead of one per task.
 * Each task is still committed atomically on its own and each caller gets its own result.
 */
export class CommitBatcher {
  private readonly store: RedisTaskStore;
  private readonly consumer: string;
  private readonly maxBatch: number;
  private readonly windowMs: number;
  private readonly ownCommand: boolean;
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing = new Set<Promise<void>>();

  /**
   * `windowMs` > 0 holds a batch open that long, to gather more commits when they trickle in. `ownCommand`:
   * each batch goes to Redis as a command of its own, not through ioredis' auto-pipeline (RedisTaskStore.commit).
   */
  constructor(store: RedisTaskStore, consumer: string, { maxBatch = 200, windowMs = 0, ownCommand = false } = {}) {
    this.store = store;
    this.consumer = consumer;
    this.maxBatch = maxBatch;
    this.windowMs = windowMs;
    this.ownCommand = ownCommand;
  }

  commit(commit: TaskCommit): Promise<CommitResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves when every commit handed in so far has been answered. */
  async drain(): Promise<void> {
    if (this.queue.length > 0) this.flush();
    await Promise.all(this.flushing);
  }

  private flush(): void {
    if (this.queue.length === 0) return;
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const done = this.store
        .commit(
          batch.map((p) => p.commit),
          this.consumer,
          { ownCommand: this.ownCommand },
        )
        .then(
          (results) => {
            for (const [i, p] of batch.entries()) p.resolve(results[i] ?? { kind: 'lease-lost' });
          },
          (err) => {
            for (const p of batch) p.reject(err);
          },
        )
        .finally(() => this.flushing.delete(done));
      this.flushing.add(done);
    }
  }
}
