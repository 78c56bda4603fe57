import type { TaskCommit } from '../redis/placement.ts';
import type { CommitResult, RedisTaskStore } from '../redis/task-store.ts';

type Pending = { commit: TaskCommit; resolve: (r: CommitResult) => void; reject: (e: unknown) => void };

/**
 * Completions that finish in the same turn of the event loop are committed with one script call.
 * Each caller still gets its own task's result.
 */
export class CommitBatcher {
  private readonly store: RedisTaskStore;
  private readonly consumer: string;
  private readonly maxBatch: number;
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing = new Set<Promise<void>>();

  constructor(store: RedisTaskStore, consumer: string, maxBatch = 200) {
    this.store = store;
    this.consumer = consumer;
    this.maxBatch = maxBatch;
  }

  commit(commit: TaskCommit): Promise<CommitResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves when every commit handed in so far has been answered. */
  async drain(): Promise<void> {
    if (this.queue.length > 0) this.flush();
    await Promise.all(this.flushing);
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const done = this.store
        .commit(
          batch.map((p) => p.commit),
          this.consumer,
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
