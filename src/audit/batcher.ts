import type { Logger } from '../kernel/index.ts';
import type { AuditEventInput } from './chain.ts';
import type { AuditLog } from './log.ts';

/*
 * Group commit for the audit chain (issue 13 "message submitted, delivered, …"): every
 * message writes events, and one insert per event would serialise the relay on the chain's
 * head. Events that arrive while a batch is being written go into the next one, so under
 * load a batch holds many events and costs one statement; alone, an event waits for nothing.
 */

const MAX_BATCH = 500;

export class AuditBatcher {
  private readonly log: Pick<AuditLog, 'recordMany'>;
  private readonly logger: Logger;
  private pending: { input: AuditEventInput; done: (error?: Error) => void }[] = [];
  private writing: Promise<void> | null = null;

  constructor(log: Pick<AuditLog, 'recordMany'>, logger: Logger) {
    this.log = log;
    this.logger = logger;
  }

  /** Resolves once the event is committed in the chain; rejects if its batch could not be written. */
  add(input: AuditEventInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ input, done: (error) => (error ? reject(error) : resolve()) });
      if (!this.writing) this.writing = this.drain();
    });
  }

  /** Waits for everything added so far (shutdown). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
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
