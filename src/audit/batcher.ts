import type { Logger } from '../kernel/index.ts';
import type { AuditEventInput } from './chain.ts';

/*
 * Group commit for the audit chain (issue 13 "message submitted, delivered, …"): every
 * message writes events, and one insert per event would serialise the relay on the chain's
 * head. Events that arrive while a batch is being written go into the next one, so under
 * load a batch holds many events and costs one statement; alone, an event waits for nothing.
 *
 * The batchers of one log share one queue (issue 14): the SMTP side and the delivery worker
 * each hold a batcher, and on SQLite each batch is a transaction with its own fsync on the
 * event loop. Separately they wrote 1.57 batches per relayed message for its two events (a
 * synchronous write lets nothing gather while it runs); together the events of a turn of the
 * event loop share one commit.
 */

const MAX_BATCH = 500;

/** The log, or what hands a batch to the process that writes it (a listener worker on SQLite). */
export type AuditWriter = { recordMany(inputs: AuditEventInput[]): Promise<unknown> };

interface Pending {
  input: AuditEventInput;
  done: (error?: Error) => void;
}

/** The one queue of a log: what every batcher of it added and not yet written. */
class SharedQueue {
  pending: Pending[] = [];
  writing: Promise<void> | null = null;
  readonly log: AuditWriter;
  readonly logger: Logger;

  constructor(log: AuditWriter, logger: Logger) {
    this.log = log;
    this.logger = logger;
  }

  add(input: AuditEventInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ input, done: (error) => (error ? reject(error) : resolve()) });
      if (!this.writing) this.writing = this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the events of this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        await this.log.recordMany(batch.map((b) => b.input));
        for (const b of batch) b.done();
      } catch (error) {
        this.logger.error({ err: (error as Error).message, events: batch.length }, 'audit events not written');
        for (const b of batch) b.done(error as Error);
      }
    }
    this.writing = null;
  }
}

const queues = new WeakMap<AuditWriter, SharedQueue>();

export class AuditBatcher {
  private readonly queue: SharedQueue;

  constructor(log: AuditWriter, logger: Logger) {
    let queue = queues.get(log);
    if (!queue) {
      queue = new SharedQueue(log, logger);
      queues.set(log, queue);
    }
    this.queue = queue;
  }

  /** Resolves once the event is committed in the chain; rejects if its batch could not be written. */
  add(input: AuditEventInput): Promise<void> {
    return this.queue.add(input);
  }

  /** Waits for everything added so far, by any batcher of this log (shutdown). */
  async flush(): Promise<void> {
    while (this.queue.writing) await this.queue.writing;
  }
}
