/**
 * Composition root, pickup side: turns a queued message into Secure Message Pickups (one per
 * recipient, each with its own message password) and queues the notices; expires old ones.
 */
import { Readable } from 'node:stream';
import type { DomainJob, PickupFn, RecipientResult } from './delivery/index.ts';
import type { Service } from './kernel/index.ts';
import { buildPickupNotice, mimeToParts, parseSecureHeader, readHeaderField, stripSubjectTag, type SenderChoice } from './pickup/index.ts';
import type { Runtime } from './runtime.ts';

export function createPickupDelivery(runtime: Runtime, notify: () => void): PickupFn {
  const { config, pickup, queue, logger, clock } = runtime;
  return async (job: DomainJob, recipients: DomainJob['recipients'], reason: string): Promise<RecipientResult[]> => {
    const results: RecipientResult[] = [];
    // The sender's choice is the same for every recipient: its header is read once per job.
    let sendersChoice: Promise<SenderChoice> | undefined;
    for (const recipient of recipients) {
      const now = clock.now();
      const receipt = (reply: string, outcome: RecipientResult['outcome']) => ({ at: now, recipient: recipient.address, mxHost: null, ip: null, port: null, tlsVersion: null, cipher: null, certSubject: null, certVerified: false, reply, outcome });
      try {
        sendersChoice ??= job.openBody().then(async (body) => parseSecureHeader(await readHeaderField(body, 'Sealgate-Secure'), config.pickup.defaultVerification));
        const choice = await sendersChoice;
        const parsed = mimeToParts(await job.openBody());
        const held = await pickup.create({
          sender: job.mailFrom,
          recipient: recipient.address,
          subject: stripSubjectTag(await parsed.subject, config.pickup.subjectTag).subject,
          parts: parsed.parts,
          ...choice,
          expiresInDays: config.pickup.expiresInDays,
          readNotice: config.pickup.readNotice,
        });
        const notice = buildPickupNotice(config, { id: held.id, messagePassword: held.messagePassword, recipient: recipient.address, sender: job.mailFrom, expiresInDays: config.pickup.expiresInDays, now });
        await queue.enqueue({ mailFrom: '', recipients: [{ address: recipient.address, notify: ['NEVER'] }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([notice]));
        await pickup.recordEvent(held.id, 'notice-sent', null, `notice queued to ${recipient.address}`);
        notify();
        logger.info({ pickupId: held.id, domain: job.domain, reason }, 'held for Secure Message Pickup');
        const reply = `250 2.0.0 Held for Secure Message Pickup ${held.id} (${reason}); notice queued`;
        results.push({ recipientId: recipient.id, outcome: 'delivered', reply, enhanced: '2.0.0', receipt: receipt(reply, 'delivered') });
      } catch (error) {
        logger.error({ err: (error as Error).message, domain: job.domain }, 'pickup conversion failed');
        const reply = `451 4.3.0 Could not hold the message for Secure Message Pickup: ${(error as Error).message}`;
        results.push({ recipientId: recipient.id, outcome: 'deferred', reply, enhanced: '4.3.0', receipt: receipt(reply, 'deferred') });
      }
    }
    return results;
  };
}

/** Expiry destroys server shares on time (crypto-shredding), every few minutes. */
export function createPickupHousekeeping(runtime: Runtime, intervalMs = 5 * 60_000): Service {
  let timer: NodeJS.Timeout | undefined;
  const sweep = () =>
    runtime.pickup.expire(runtime.clock.now()).then(
      (count) => count && runtime.logger.info({ count }, 'pickup messages expired'),
      (error: Error) => runtime.logger.warn({ err: error.message }, 'pickup expiry failed'),
    );
  return {
    name: 'pickup-housekeeping',
    async start() {
      const swept = await runtime.pickup.sweepShares();
      if (swept) runtime.logger.info({ swept }, 'left-over pickup shares removed');
      await sweep();
      timer = setInterval(sweep, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
    },
  };
}
