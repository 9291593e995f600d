import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isPickupError, type OpenedMessage } from '../pickup/index.ts';
import { clientIp, type WebContext } from './context.ts';
import { MESSAGE_ID, type ConsoleHelpers } from './console-shared.ts';
import { html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { formatSize, formatTime, shown } from './layout.ts';
import { sendAttachment } from './portal.ts';
import { HttpError, sendPage } from './security.ts';
import { textOf } from './reply-thread.ts';

/*
 * A recipient's secure reply as its sender reads it in the console, its files, and the way to
 * answer it: "Reply" opens compose for a new pickup to that recipient in the same thread.
 */

/** The reply `replyId` to one of `user`'s messages, opened; 404 for anyone else's. */
export async function ownReply(c: WebContext, request: FastifyRequest, user: string, replyId: string): Promise<{ original: string; reply: OpenedMessage }> {
  const original = MESSAGE_ID.test(replyId) ? await c.pickup.replies.originalOf(replyId) : undefined;
  if (!original || !(await c.pickup.sent.message(user, original))) throw new HttpError(404, i18n(request).text('console.error.noReply'));
  try {
    return { original, reply: await c.pickup.replies.open(replyId, clientIp(request)) };
  } catch (error) {
    if (isPickupError(error)) throw new HttpError(error.reason === 'rate-limited' ? 429 : 410, error.message);
    throw error;
  }
}

export function registerConsoleReplies(app: FastifyInstance, c: WebContext, helpers: ConsoleHelpers): void {
  app.get<{ Params: { replyId: string } }>('/console/reply/:replyId', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const { original, reply: opened } = await ownReply(c, request, user, request.params.replyId);
    const text = await textOf(opened, 2 * 1024 * 1024);
    const files = opened.parts.filter((p) => p.kind === 'attachment');
    const body = html`<h1>${shown(opened.subject) || tr.t('console.noSubject')}</h1>
<p class="meta">${tr.t('console.reply.from', { sender: shown(opened.sender), time: formatTime(opened.createdAt, tr) })}</p>
<section class="card"><pre class="text-body" id="reply-text">${text}</pre></section>
${files.length ? html`<section class="card"><h2>${tr.t('console.reply.attachments')}</h2><ul class="files">${files.map((p) => html`<li><a href="/console/reply/${opened.id}/part/${p.idx}" download>${shown(p.filename ?? `attachment-${p.idx}`)}</a> <span class="meta">${formatSize(p.size)}</span></li>`)}</ul></section>` : ''}
<p><a class="button" href="/console/compose?reply=${opened.id}" id="answer" aria-describedby="answer-hint">${tr.t('console.reply.answer')}</a></p>
<p class="meta" id="answer-hint">${tr.t('console.reply.answerHint', { recipient: shown(opened.sender) })}</p>
<p><a href="/console/m/${original}">${tr.t('console.reply.back')}</a></p>`;
    return sendPage(reply, 200, helpers.consolePage(request, user, shown(opened.subject), body));
  });

  app.get<{ Params: { replyId: string; idx: string } }>('/console/reply/:replyId/part/:idx', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const { reply: opened } = await ownReply(c, request, user, request.params.replyId);
    const part = opened.parts.find((p) => p.idx === Number(request.params.idx) && p.kind === 'attachment');
    if (!part) throw new HttpError(404, i18n(request).text('console.error.noAttachment'));
    const name = shown(part.filename ?? `attachment-${part.idx}`);
    return sendAttachment(reply, name, part.size, opened.openPart(part.idx));
  });
}
