import { Readable } from 'node:stream';
import type { Queue, LeasedGroup } from '../queue/index.ts';
import { buildDsn, makeMessageId, shouldBounce, splitHeaderBlock } from '../mail/index.ts';

export interface BounceEntry {
  address: string;
  orcpt?: string;
  status: string;
  reply: string;
  remoteMta?: string;
}

const MAX_HEADER_BYTES = 256 * 1024;

/** The original's header block only: a report never carries the body (see mail/dsn.ts buildDsn). */
async function readOriginalHeaders(queue: Queue, messageId: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  const stream = await queue.openBody(messageId);
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (splitHeaderBlock(Buffer.concat(chunks)) || length >= MAX_HEADER_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  const all = Buffer.concat(chunks);
  const split = splitHeaderBlock(all);
  return all.subarray(0, split ? split.headerEnd : Math.min(all.length, MAX_HEADER_BYTES)).toString('utf8');
}

function notifies(notify: string[] | undefined, kind: 'FAILURE' | 'DELAY'): boolean {
  // RFC 3461 §4.1: without NOTIFY the MTA decides; we report failures and delays.
  if (!notify) return true;
  return notify.includes(kind);
}

/** A report about our own notice: to whom (not the null sender it came from), and its opening sentence. */
export interface ReportOptions {
  to: string;
  intro: string;
}

/**
 * Queues an RFC 3464 report to the original sender (or `about.to`). Queued (durably) before the recipients
 * are settled, so a crash in between yields at worst a second report, never none.
 */
export async function queueReport(
  queue: Queue,
  group: LeasedGroup,
  kind: 'failure' | 'delay',
  entries: BounceEntry[],
  reportingMta: string,
  now: number,
  retryUntil?: number,
  about?: ReportOptions,
): Promise<string | null> {
  const sender = about?.to ?? group.envelope.mailFrom;
  if (!shouldBounce(sender)) return null;
  // A notice's NOTIFY=NEVER keeps reports from its own (null) sender; the pickup's sender asked nothing of the kind.
  const wanted = about ? entries : entries.filter((entry) => {
    const recipient = group.recipients.find((r) => r.address === entry.address);
    return notifies(recipient?.notify, kind === 'failure' ? 'FAILURE' : 'DELAY');
  });
  if (wanted.length === 0) return null;
  // RET=FULL is answered as RET=HDRS (RFC 3461 §4.3 lets the MTA return less). A message that
  // required a protected link gets a redacted report (RFC 8689 §5) that carries none of its
  // content, so the report itself needs no requirement and reaches the sender over any link.
  const redact = group.envelope.requireTls || (group.envelope.requiredLevel !== undefined && group.envelope.requiredLevel !== 'none') || group.envelope.pickup === true;
  const originalHeaders = await readOriginalHeaders(queue, group.messageId);
  const report = buildDsn({
    reportingMta,
    arrivalDate: new Date(group.createdAt),
    now: new Date(now),
    originalEnvelopeId: group.envelope.dsnEnvid,
    sender,
    kind,
    recipients: wanted.map((entry) => ({
      address: entry.address,
      orcpt: entry.orcpt,
      status: entry.status,
      action: kind === 'failure' ? 'failed' : 'delayed',
      diagnostic: `smtp; ${entry.reply}`,
      remoteMta: entry.remoteMta,
      lastAttempt: new Date(now),
      willRetryUntil: retryUntil !== undefined ? new Date(retryUntil) : undefined,
    })),
    originalHeaders,
    redact,
    intro: about?.intro,
    messageId: makeMessageId(reportingMta),
  });
  const { id } = await queue.enqueue(
    { mailFrom: '', recipients: [{ address: sender, notify: ['NEVER'] }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' },
    Readable.from([Buffer.from(report)]),
  );
  return id;
}
