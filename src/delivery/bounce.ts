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
const MAX_FULL_BODY_BYTES = 128 * 1024;

/** The original's header block (and, when small, its whole text) for the report. */
async function readOriginal(queue: Queue, messageId: string, wantBody: boolean): Promise<{ headers: string; body?: string }> {
  const chunks: Buffer[] = [];
  let length = 0;
  const limit = wantBody ? MAX_FULL_BODY_BYTES + 1 : MAX_HEADER_BYTES;
  const stream = await queue.openBody(messageId);
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (!wantBody && splitHeaderBlock(Buffer.concat(chunks))) break;
      if (length >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  const all = Buffer.concat(chunks);
  const split = splitHeaderBlock(all);
  const headers = all.subarray(0, split ? split.headerEnd : Math.min(all.length, MAX_HEADER_BYTES)).toString('utf8');
  const whole = wantBody && length <= MAX_FULL_BODY_BYTES ? all.toString('utf8') : undefined;
  return { headers, body: whole };
}

function notifies(notify: string[] | undefined, kind: 'FAILURE' | 'DELAY'): boolean {
  // RFC 3461 §4.1: without NOTIFY the MTA decides; we report failures and delays.
  if (!notify) return true;
  return notify.includes(kind);
}

/**
 * Queues an RFC 3464 report to the original sender. Queued (durably) before the recipients
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
): Promise<string | null> {
  const sender = group.envelope.mailFrom;
  if (!shouldBounce(sender)) return null;
  const wanted = entries.filter((entry) => {
    const recipient = group.recipients.find((r) => r.address === entry.address);
    return notifies(recipient?.notify, kind === 'failure' ? 'FAILURE' : 'DELAY');
  });
  if (wanted.length === 0) return null;
  const full = kind === 'failure' && group.envelope.dsnRet === 'FULL';
  const original = await readOriginal(queue, group.messageId, full);
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
    returnContent: full && original.body !== undefined ? 'FULL' : 'HDRS',
    originalHeaders: original.headers,
    originalBody: full ? original.body : undefined,
    messageId: makeMessageId(reportingMta),
  });
  const { id } = await queue.enqueue(
    { mailFrom: '', recipients: [{ address: sender, notify: ['NEVER'] }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' },
    Readable.from([Buffer.from(report)]),
  );
  return id;
}
