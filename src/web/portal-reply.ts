import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OpenedMessage } from '../pickup/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { i18n } from './i18n/index.ts';
import { formatSize } from './layout.ts';
import { HttpError, csrfMatches } from './security.ts';
import { UploadBudget, uploadName } from './streams.ts';
import { notifySenderOfReply } from './reply-thread.ts';

/* The recipient's secure reply (POST /m/<id>/reply): streamed upload, daily cap per link. */

const DAY_MS = 86_400_000;

export function registerReply(
  app: FastifyInstance, c: WebContext, checkId: (id: string) => void,
  session: (request: FastifyRequest, reply: FastifyReply, id: string) => Promise<OpenedMessage | undefined>,
): void {
  /** Replies admitted under the daily cap whose upload is still being stored, by message id. */
  const repliesInFlight = new Map<string, number>();

  app.post<{ Params: { id: string } }>('/m/:id/reply', async (request, reply) => {
    checkId(request.params.id);
    const tr = i18n(request);
    if (!request.isMultipart()) throw new HttpError(400, tr.text('portal.reply.useForm'));
    const parts = request.parts()[Symbol.asyncIterator]();
    // The CSRF field is the form's first: checked before any upload is read.
    const first = await parts.next();
    if (first.done || first.value.type !== 'field' || first.value.fieldname !== '_csrf' || !csrfMatches(request, first.value.value)) throw new HttpError(403, tr.text('error.csrf'));
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const fields: Record<string, string> = {};
    let pending = await parts.next();
    while (!pending.done && pending.value.type === 'field') {
      fields[pending.value.fieldname] = String(pending.value.value);
      pending = await parts.next();
    }
    const text = (fields.text ?? '').replace(/\r\n/g, '\n');
    // Whatever the answer, the rest of the upload is read (unstored) so the browser sees it.
    const drain = async () => {
      for (let current = pending; !current.done; current = await parts.next()) if (current.value.type === 'file') current.value.file.resume();
    };
    // A link takes so many replies a day (web.maxRepliesPerDay); each link belongs to one recipient.
    // Replies still uploading count too, and the slot is taken in the same tick as the check:
    // otherwise replies sent at once all read the same count (24 at once were all stored).
    // Held per node: each node of a cluster could admit its own replies in flight at once.
    const since = c.clock.now() - DAY_MS;
    const today = (await c.pickup.replies.list(opened.id)).filter((r) => r.createdAt > since).length + (repliesInFlight.get(opened.id) ?? 0);
    if (today >= c.config.web.maxRepliesPerDay) {
      await drain();
      throw new HttpError(429, tr.text('portal.reply.daily', { sent: today }));
    }
    repliesInFlight.set(opened.id, (repliesInFlight.get(opened.id) ?? 0) + 1);
    // Released when the answer is out (the reply row is written by then, or the upload failed).
    reply.raw.once('close', () => {
      const left = (repliesInFlight.get(opened.id) ?? 1) - 1;
      if (left > 0) repliesInFlight.set(opened.id, left);
      else repliesInFlight.delete(opened.id);
    });
    // Text and files together, like a message: at most limits.maxMessageBytes.
    const budget = new UploadBudget(c.config.limits.maxMessageBytes, Buffer.byteLength(text, 'utf8'));
    let fileCount = 0;
    async function* files() {
      for (; !pending.done; pending = await parts.next()) {
        const part = pending.value;
        if (part.type !== 'file') continue;
        if (!part.filename || budget.exceeded) {
          part.file.resume(); // an empty file input, or the budget is spent already
          continue;
        }
        fileCount++;
        yield { filename: uploadName(part.filename), contentType: part.mimetype || 'application/octet-stream', content: budget.meter(part.file) };
      }
    }
    if (!text.trim() && pending.done) throw new HttpError(400, tr.text('portal.reply.empty'));
    let replyId: string;
    try {
      if (budget.exceeded) throw new HttpError(413, 'too large');
      replyId = await c.pickup.replies.create(opened, { text, attachments: files() }, clientIp(request));
    } catch (error) {
      if (!budget.exceeded) throw error;
      if (!pending.done) pending = await parts.next().catch(() => ({ done: true, value: undefined }) as const);
      await drain();
      throw new HttpError(413, tr.text('portal.reply.tooLarge', { limit: formatSize(c.config.limits.maxMessageBytes) }));
    }
    c.logger.info({ messageId: opened.id, replyId, files: fileCount }, 'secure reply stored');
    // Issue 13 "message replied": the reply's id and how many files, never its text or names.
    await c.audit.record({ actor: opened.recipient, action: 'message.replied', target: opened.id, ip: clientIp(request), protocol: 'portal', detail: { reply: replyId, to: opened.sender, files: fileCount } });
    await notifySenderOfReply(c, opened, replyId);
    return redirect(reply, `/m/${opened.id}/read?replied=1`);
  });
}
