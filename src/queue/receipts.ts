/**
 * Signed receipts (issue 12): the document each final outcome signs, reading receipts back
 * with their signature, and the delivery search behind `sealgate trace`.
 */
import { verifyReceipt, type ReceiptDocument, type ReceiptKind } from '../audit/index.ts';
import type { DeliveryReceipt } from '../kernel/index.ts';
import type { QueueContext } from './context.ts';
import type { Settlement } from './types.ts';

/** What the receipts table keeps of a reply or reason (the signed text is the same). */
export const STORED_TEXT_MAX = 1000;

/**
 * `text` cut to STORED_TEXT_MAX code units, never inside a surrogate pair: a lone half is
 * `\ud83d` in the signed JSON but U+FFFD in the row once SQLite stores it as UTF-8, and the
 * receipt would read as changed after signing (i12-09).
 */
export function storedText(text: string): string {
  if (text.length <= STORED_TEXT_MAX) return text;
  const cut = text.slice(0, STORED_TEXT_MAX);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Final outcomes are signed; a deferral is not a proof of anything. */
export function receiptKind(state: Settlement['state'], receipt: DeliveryReceipt): ReceiptKind | null {
  if (state === 'failed') return 'failed';
  if (state !== 'delivered') return null;
  return receipt.route === 'pickup' ? 'held-for-pickup' : 'delivered';
}

export function receiptDocument(kind: ReceiptKind, messageId: string, receipt: DeliveryReceipt): ReceiptDocument {
  return {
    format: 'sealgate-receipt-v1',
    kind,
    messageId,
    mailFrom: receipt.mailFrom ?? '',
    recipient: receipt.recipient,
    at: new Date(receipt.at).toISOString(),
    mxHost: receipt.mxHost,
    ip: receipt.ip,
    port: receipt.port,
    tlsVersion: receipt.tlsVersion,
    cipher: receipt.cipher,
    certSubject: receipt.certSubject,
    certFingerprint: receipt.certFingerprint ?? null,
    certVerified: receipt.certVerified,
    reply: storedText(receipt.reply),
    route: receipt.route ?? null,
    routeReason: receipt.routeReason === undefined ? null : storedText(receipt.routeReason),
    messageSha256: receipt.messageSha256 ?? null,
  };
}

/** One receipt as stored: its columns (what `queue show` prints) and, when signed, the proof. */
export interface StoredReceipt {
  id: number;
  messageId: string;
  mailFrom: string | null;
  /** Whether the row names its recipient (an older node's row whose recipient row retention removed does not). */
  recipientKnown: boolean;
  /** What the row says happened; null for a deferral (never signed). */
  kind: ReceiptKind | null;
  receipt: DeliveryReceipt;
  /** The signed document's exact text and base64 signature; null on deferrals and older rows. */
  signed: string | null;
  signature: string | null;
}

/**
 * The columns that differ from what the signature covers: the signed bytes may hold while
 * someone edited the row beside them, and the row is what `queue show` and `trace` print.
 */
export function receiptDisagreement(stored: StoredReceipt, document: ReceiptDocument): string[] {
  const r = stored.receipt;
  const pairs: [string, unknown, unknown][] = [
    ['message ID', stored.messageId, document.messageId],
    // An older row without these columns, whose queue rows are gone: only the signed text names them.
    ['sender', stored.mailFrom ?? document.mailFrom, document.mailFrom],
    ['recipient', stored.recipientKnown ? r.recipient : document.recipient, document.recipient],
    ['time', new Date(r.at).toISOString(), document.at],
    ['outcome', stored.kind, document.kind],
    ['MX host', r.mxHost, document.mxHost],
    ['IP', r.ip, document.ip],
    ['port', r.port, document.port],
    ['TLS version', r.tlsVersion, document.tlsVersion],
    ['cipher', r.cipher, document.cipher],
    ['certificate subject', r.certSubject, document.certSubject],
    ['certificate fingerprint', r.certFingerprint ?? null, document.certFingerprint],
    ['certificate verified', r.certVerified, document.certVerified],
    ['reply', r.reply, document.reply],
    ['route', r.route ?? null, document.route],
    ['route reason', r.routeReason ?? null, document.routeReason],
    ['message SHA-256', r.messageSha256 ?? null, document.messageSha256],
  ];
  return pairs.filter(([, row, signed]) => row !== signed).map(([name]) => name);
}

type ReceiptRow = Awaited<ReturnType<ReturnType<typeof receiptQuery>['execute']>>[number];

function receiptQuery(ctx: QueueContext) {
  return ctx.store.db
    .selectFrom('receipts')
    .leftJoin('recipients', 'recipients.id', 'receipts.recipient_id')
    .leftJoin('messages', 'messages.id', 'receipts.message_id')
    .selectAll('receipts')
    .select(['recipients.address as recipient_address', 'messages.mail_from as message_mail_from'])
    .orderBy('receipts.id');
}

/** A pickup opened is stored with this outcome (no delivery attempt behind it). */
export const PICKUP_OPENED = 'pickup-opened';

function kindOfRow(row: ReceiptRow, receipt: DeliveryReceipt): ReceiptKind | null {
  if (row.outcome === PICKUP_OPENED) return 'pickup-opened';
  return receiptKind(row.outcome === 'failed' ? 'failed' : row.outcome === 'delivered' ? 'delivered' : 'queued', receipt);
}

function storedReceipt(row: ReceiptRow): StoredReceipt {
  const receipt = receiptOfRow(row);
  return { id: Number(row.id), messageId: row.message_id, mailFrom: row.mail_from ?? row.message_mail_from ?? null, recipientKnown: (row.recipient ?? row.recipient_address) != null, kind: kindOfRow(row, receipt), signed: row.signed, signature: row.signature, receipt };
}

/** A receipts row as the receipt it records; `recipient_address` is the recipients row's, for rows older than the receipt's own column. */
export function receiptOfRow(row: Omit<ReceiptRow, 'message_mail_from'>): DeliveryReceipt {
  return {
    at: Number(row.at),
    recipient: row.recipient ?? row.recipient_address ?? String(row.recipient_id),
    mxHost: row.mx_host,
    ip: row.ip,
    port: row.port === null ? null : Number(row.port),
    tlsVersion: row.tls_version,
    cipher: row.cipher,
    certSubject: row.cert_subject,
    certFingerprint: row.cert_fingerprint,
    certVerified: Number(row.cert_verified) === 1,
    messageSha256: row.message_sha256,
    reply: row.reply,
    outcome: row.outcome as DeliveryReceipt['outcome'],
    ...(row.route ? { route: row.route as DeliveryReceipt['route'] } : {}),
    ...(row.route_reason ? { routeReason: row.route_reason } : {}),
  };
}

/** Every receipt of one message, oldest first. */
export async function receiptsOf(ctx: QueueContext, messageId: string): Promise<StoredReceipt[]> {
  return (await receiptQuery(ctx).where('receipts.message_id', '=', messageId).execute()).map(storedReceipt);
}

export interface TraceFilter {
  messageId?: string;
  /** Envelope sender, exact (case-insensitive); `<>` for the null sender. */
  from?: string;
  /** Recipient address, exact (case-insensitive). */
  to?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  limit?: number;
}

/** Final outcomes (the signed receipts and older unsigned ones), newest first. */
export async function trace(ctx: QueueContext, filter: TraceFilter): Promise<StoredReceipt[]> {
  let query = receiptQuery(ctx).clearOrderBy().orderBy('receipts.at', 'desc').orderBy('receipts.id', 'desc').where('receipts.outcome', '!=', 'deferred').limit(filter.limit ?? 100);
  if (filter.messageId) query = query.where('receipts.message_id', '=', filter.messageId);
  // The receipt's own columns; a row of an older node has them only in the queue's tables.
  if (filter.from !== undefined) {
    const from = filter.from === '<>' ? '' : filter.from.toLowerCase();
    query = query.where((eb) => eb(eb.fn('lower', [eb.fn.coalesce('receipts.mail_from', 'messages.mail_from')]), '=', from));
  }
  if (filter.to) {
    const to = filter.to.toLowerCase();
    query = query.where((eb) => eb(eb.fn('lower', [eb.fn.coalesce('receipts.recipient', 'recipients.address')]), '=', to));
  }
  if (filter.since !== undefined) query = query.where('receipts.at', '>=', filter.since);
  if (filter.until !== undefined) query = query.where('receipts.at', '<=', filter.until);
  return (await query.execute()).map(storedReceipt);
}

export type ReceiptCheck =
  | { status: 'valid'; document: ReceiptDocument }
  | { status: 'invalid'; reason: string }
  /** A final outcome without a signature: written by a node before issue 12, or the proof was removed. */
  | { status: 'unsigned'; reason: string };

/** Whether a stored receipt is proven: its signature holds and its row says what was signed. */
export function checkReceipt(stored: StoredReceipt, publicKeyPem: string): ReceiptCheck {
  if (stored.signed === null || stored.signature === null) {
    return { status: 'unsigned', reason: 'this receipt carries no signature (written before receipts were signed, or the signature was removed), so nothing proves it' };
  }
  const verdict = verifyReceipt(stored.signed, stored.signature, publicKeyPem);
  if (!verdict.valid) return { status: 'invalid', reason: verdict.reason };
  const differ = receiptDisagreement(stored, verdict.document);
  if (differ.length) return { status: 'invalid', reason: `the stored row was changed after signing: ${differ.join(', ')} differ from the signed receipt` };
  return { status: 'valid', document: verdict.document };
}

/** A pickup opened in the portal, as `recordPickupOpened` signs it. */
export interface PickupOpenedFacts {
  /** The queue ID of the message held for pickup, or the pickup's own ID when it was composed in the console. */
  messageId: string;
  pickupId: string;
  recipient: string;
  /** The envelope sender when the queue no longer knows the message (console compositions): its user. */
  sender: string;
  at: number;
  /** Where it was opened from. */
  ip: string;
  newBrowser: boolean;
}

/**
 * Signs and stores the receipt of one pickup opened (issue 12: "every pickup opened writes a
 * receipt"). The recipient row is found by address in the held message; a console composition
 * has none (recipient id 0), and its receipt is filed under the pickup's ID.
 */
export async function recordPickupOpened(ctx: QueueContext, opened: PickupOpenedFacts): Promise<void> {
  const held = await ctx.store.db
    .selectFrom('recipients')
    .innerJoin('messages', 'messages.id', 'recipients.message_id')
    .select(['recipients.id', 'recipients.address', 'messages.mail_from'])
    .where('recipients.message_id', '=', opened.messageId)
    .where((eb) => eb(eb.fn('lower', ['recipients.address']), '=', opened.recipient.toLowerCase()))
    .executeTakeFirst();
  const receipt: DeliveryReceipt = {
    at: opened.at,
    recipient: held?.address ?? opened.recipient,
    mailFrom: held?.mail_from ?? opened.sender,
    mxHost: null, ip: opened.ip, port: null, tlsVersion: null, cipher: null, certSubject: null, certFingerprint: null, certVerified: false, messageSha256: null,
    reply: `Secure Message Pickup ${opened.pickupId} opened in the portal${opened.newBrowser ? ' (in a new browser, with a fresh code)' : ''}`,
    outcome: 'delivered',
    route: 'pickup',
  };
  const proof = ctx.receiptSigner?.sign(receiptDocument('pickup-opened', opened.messageId, receipt)) ?? null;
  await ctx.store.db
    .insertInto('receipts')
    .values({
      message_id: opened.messageId, recipient_id: held?.id ?? 0, mail_from: receipt.mailFrom ?? null, recipient: receipt.recipient, at: receipt.at, mx_host: null, ip: receipt.ip, port: null, tls_version: null, cipher: null, cert_subject: null, cert_verified: 0,
      reply: storedText(receipt.reply), outcome: PICKUP_OPENED, route: 'pickup', route_reason: null, message_sha256: null, cert_fingerprint: null, signed: proof?.signed ?? null, signature: proof?.signature ?? null,
    })
    .execute();
}
