/**
 * Group commit: work submitted while a commit is in flight (or in the same tick) is written
 * in the next single transaction, so N concurrent sessions cost one fsync, not N. Every
 * caller still resolves only after its own data is committed.
 */
export class GroupCommit<Item, Result> {
  private queue: { item: Item; resolve: (r: Result) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private readonly commit: (items: Item[]) => Promise<Result[]>;
  private readonly maxBatch: number;

  constructor(commit: (items: Item[]) => Promise<Result[]>, maxBatch = 256) {
    this.commit = commit;
    this.maxBatch = maxBatch;
  }

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.commit(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i]));
      } catch (error) {
        batch.forEach((b) => b.reject(error));
      }
    }
    this.running = false;
  }
}
