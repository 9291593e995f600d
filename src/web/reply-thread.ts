import type { FastifyRequest } from 'fastify';
import { isPickupError, publicBaseUrl, type OpenedMessage } from '../pickup/index.ts';
import { clientIp, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { formatTime, shown } from './layout.ts';
import { replyNoticeMail } from './notices.ts';
import { readLimited } from './streams.ts';

/*
 * Replies reach the sender (issue 10 item 8): a notice mail without content when a recipient
 * sends a secure reply, and on the recipient's message page the conversation so far: the
 * sender's messages in the thread (a console "Reply" continues it) and the recipient's own
 * replies. The server can open those replies (their passwords are sealed under the answered
 * message's share, replies.ts); the sender's other messages it cannot, so they show by subject
 * and date, to be opened from their own notice.
 */

/** Replies shown per message of the thread; each is opened (and logged) to show it. */
const REPLIES_SHOWN = 20;
const REPLY_TEXT_LIMIT = 64 * 1024;

/** Tells the sender a reply waits; a failure is logged, the reply is stored and the console shows it anyway. */
export async function notifySenderOfReply(c: WebContext, opened: OpenedMessage, replyId: string): Promise<void> {
  const mail = replyNoticeMail(c.config, opened.sender, opened.recipient, `${publicBaseUrl(c.config)}/console/m/${opened.id}`, new Date(c.clock.now()));
  try {
    await c.sendMail(mail.envelope, mail.raw);
  } catch (error) {
    c.logger.warn({ err: (error as Error).message, messageId: opened.id, replyId }, 'reply notice to the sender not sent');
  }
}

/** The text part of an opened message, cut at `limit` bytes. */
export async function textOf(opened: OpenedMessage, limit: number): Promise<string> {
  const part = opened.parts.find((p) => p.kind === 'text');
  return part ? (await readLimited(opened.openPart(part.idx), limit)).content.toString('utf8') : '';
}

interface Entry {
  at: number;
  body: Html;
}

/** The conversation `opened` belongs to, for its recipient; empty when there is nothing but this message. */
export async function threadSection(c: WebContext, request: FastifyRequest, opened: OpenedMessage): Promise<Html> {
  // Counted first: most messages stand alone, and opening the thread (a share read and a
  // decryption per message) on every view of the page was a fifth of its cost (bench/README.md).
  const size = await c.pickup.sent.threadSize(opened.sender, opened.id, opened.recipient);
  if (!size || size.entries <= 1) return html``;
  const thread = await c.pickup.sent.thread(size.threadId, opened.sender, opened.recipient);
  const tr = i18n(request);
  const entries: Entry[] = [];
  for (const message of thread) {
    const current = message.id === opened.id;
    const subject = current ? shown(opened.subject) : message.view ? shown(message.view.subject) : '';
    entries.push({
      at: message.createdAt,
      body: html`<p><strong>${shown(opened.sender)}</strong> · ${formatTime(message.createdAt, tr)}${current ? html` · ${tr.t('console.thread.thisMessage')}` : ''}</p>
<p>${subject || tr.t('console.noSubject')}${current ? '' : html` <span class="meta">— ${message.view ? tr.t('console.thread.openOwn') : tr.t('console.thread.withdrawn')}</span>`}</p>`,
    });
    for (const summary of (await c.pickup.replies.list(message.id)).slice(-REPLIES_SHOWN)) entries.push({ at: summary.createdAt, body: await replyEntry(c, request, summary.replyId, summary.createdAt) });
  }
  if (entries.length <= 1) return html``;
  entries.sort((a, b) => a.at - b.at);
  return html`<section class="card" id="thread"><h2>${tr.t('console.thread.heading')}</h2>
<ol class="files">${entries.map((e) => html`<li>${e.body}</li>`)}</ol></section>`;
}

async function replyEntry(c: WebContext, request: FastifyRequest, replyId: string, at: number): Promise<Html> {
  const tr = i18n(request);
  const head = html`<p><strong>${tr.t('console.thread.yourReply')}</strong> · ${formatTime(at, tr)}</p>`;
  let reply: OpenedMessage;
  try {
    reply = await c.pickup.replies.open(replyId, clientIp(request));
  } catch (error) {
    if (!isPickupError(error)) throw error;
    return html`${head}<p class="meta">${error.reason === 'rate-limited' ? tr.t('console.thread.later') : tr.t('console.thread.replyGone')}</p>`;
  }
  const text = await textOf(reply, REPLY_TEXT_LIMIT);
  const files = reply.parts.filter((p) => p.kind === 'attachment').map((p) => shown(p.filename ?? `attachment-${p.idx}`));
  return html`${head}<pre class="text-body">${text}</pre>${files.length ? html`<p class="meta">${tr.t('console.thread.attached', { names: files.join(', ') })}</p>` : ''}`;
}
