/**
 * Composition root, pickup side: turns a queued message into Secure Message Pickups (one per
 * recipient, each with its own message password) and queues the notices; expires old ones.
 */
import { Readable } from 'node:stream';
import type { DomainJob, NoticeOutcome, PickupFn, RecipientResult } from './delivery/index.ts';
import { isMailError, type LinkRequirement, type Service } from './kernel/index.ts';
import { MimeDepthLimit } from './mail/index.ts';
import { buildPickupNotice, heldReply, MimeConversionError, mimeToParts, noticeDeliveredDetail, noticeEnvelope, SecureHeaderError, stripSubjectTag, type SenderChoice } from './pickup/index.ts';
import type { Runtime } from './runtime.ts';

/**
 * Why a conversion can never succeed (the message's own structure or the sender's choice),
 * or undefined when it may on a later attempt (storage, database): such a message fails at once
 * with a report to the sender rather than being retried for days.
 */
function permanentReason(error: unknown): string | undefined {
  if (error instanceof MimeConversionError || error instanceof SecureHeaderError) return error.message;
  if (isMailError(error) && !error.temporary) return error.message;
  return undefined;
}

/** The sender's verification choice, read at submission into the envelope (the header itself was removed). */
function choiceOf(job: DomainJob, runtime: Runtime): SenderChoice {
  const control = job.pickupControl;
  const verification = control?.verification ?? runtime.config.pickup.defaultVerification;
  const secret = control?.sealedSecret ? runtime.vault.open(Buffer.from(control.sealedSecret, 'base64')).toString('utf8') : undefined;
  return { verification, question: control?.question, passphraseOrAnswer: secret };
}

export function createPickupDelivery(runtime: Runtime, notify: () => void): PickupFn {
  const { config, pickup, queue, logger, clock } = runtime;
  return async (job: DomainJob, recipients: DomainJob['recipients'], reason: string, bestLink?: LinkRequirement): Promise<RecipientResult[]> => {
    const results: RecipientResult[] = [];
    for (const recipient of recipients) {
      const now = clock.now();
      const receipt = (reply: string, outcome: RecipientResult['outcome']) => ({ at: now, recipient: recipient.address, mxHost: null, ip: null, port: null, tlsVersion: null, cipher: null, certSubject: null, certVerified: false, reply, outcome });
      try {
        // Pickups belong to the authenticated user who submitted the message, never to MAIL
        // FROM (which that user chose); the worker hands over only submitted mail.
        const owner = job.authUser;
        if (!owner) throw new MimeConversionError('only mail our users submitted can become a Secure Message Pickup');
        const parsed = mimeToParts((await job.openBody()).pipe(new MimeDepthLimit(config.limits.maxMimeDepth)));
        const held = await pickup.create({
          sender: owner,
          recipient: recipient.address,
          // All recipients of one submitted message (every domain group) are one entry in the console.
          composition: `smtp-${job.messageId}`,
          // Ingress took the tag out already; this covers mail queued before it did.
          subject: stripSubjectTag(await parsed.subject, config.pickup.subjectTag).subject,
          parts: parsed.parts,
          ...choiceOf(job, runtime),
          expiresInDays: config.pickup.expiresInDays,
          readNotice: config.pickup.readNotice,
        });
        const notice = buildPickupNotice(config, { id: held.id, messagePassword: held.messagePassword, recipient: recipient.address, sender: owner, expiresInDays: config.pickup.expiresInDays, now });
        // The notice names its pickup and who hears if it cannot be delivered (the worker reports it).
        const queued = await queue.enqueue(
          noticeEnvelope(recipient.address, { kind: 'pickup-notice', pickupId: held.id, reportTo: job.mailFrom || owner, heldMessageId: job.messageId }),
          Readable.from([notice]),
        );
        await pickup.recordEvent(held.id, 'notice-sent', null, `notice queued to ${recipient.address} as ${queued.id}`);
        notify();
        logger.info({ pickupId: held.id, domain: job.domain, notice: queued.id, reason }, 'held for Secure Message Pickup');
        const reply = heldReply(held.id, reason, queued.id, bestLink);
        results.push({ recipientId: recipient.id, outcome: 'delivered', reply, enhanced: '2.0.0', receipt: receipt(reply, 'delivered') });
      } catch (error) {
        const permanent = permanentReason(error);
        logger.error({ err: (error as Error).message, domain: job.domain, permanent: permanent !== undefined }, 'pickup conversion failed');
        if (permanent !== undefined) {
          const reply = `554 5.6.0 Cannot hold the message for Secure Message Pickup: ${permanent}`;
          results.push({ recipientId: recipient.id, outcome: 'failed', reply, enhanced: '5.6.0', receipt: receipt(reply, 'failed') });
          continue;
        }
        const reply = `451 4.3.0 Could not hold the message for Secure Message Pickup: ${(error as Error).message}`;
        results.push({ recipientId: recipient.id, outcome: 'deferred', reply, enhanced: '4.3.0', receipt: receipt(reply, 'deferred') });
      }
    }
    return results;
  };
}

/** Records a pickup notice's final state in the pickup's events (the console shows them). */
export function createNoticeTracker(runtime: Runtime): (outcome: NoticeOutcome) => Promise<void> {
  return async (outcome) => {
    const id = outcome.notice.pickupId;
    if (!id) return;
    if (outcome.outcome === 'delivered') {
      await runtime.pickup.recordEvent(id, 'notice-delivered', null, noticeDeliveredDetail(outcome.recipient, outcome.link, outcome.receipt.mxHost, outcome.receipt.ip));
    } else {
      await runtime.pickup.recordEvent(id, 'notice-failed', null, outcome.reply);
      runtime.logger.warn({ pickupId: id, notice: outcome.messageId }, 'pickup notice could not be delivered; the sender gets a report');
    }
  };
}

/** Expiry destroys server shares on time (crypto-shredding), every few minutes. */
export function createPickupHousekeeping(runtime: Runtime, intervalMs = 5 * 60_000): Service {
  let timer: NodeJS.Timeout | undefined;
  const sweep = () =>
    runtime.pickup.expire(runtime.clock.now()).then(
      async (count) => {
        if (count) runtime.logger.info({ count }, 'pickup messages expired');
        // Issue 13 "message expired": the ones this sweep ended and those an open found late, one batch.
        const ids = runtime.pickup.takeExpired();
        if (ids.length) await runtime.audit.recordMany(ids.map((id) => ({ actor: 'system', action: 'message.expired', target: id, protocol: 'system', detail: {} })));
      },
      (error: Error) => runtime.logger.warn({ err: error.message }, 'pickup expiry failed'),
    ).catch((error: Error) => runtime.logger.warn({ err: error.message }, 'pickup expiry audit not written'));
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
