import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { isPickupError, type MessageFacts, type OpenedMessage, type PickupFailure } from '../pickup/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatSize, formatTime, notice, page, shown } from './layout.ts';
import { codeMail, maskAddress, readNoticeMail } from './notices.ts';
import { countBlockedImages } from '../mail/index.ts';
import { frameDocument } from './frame.ts';
import { COOKIE, CSRF_FAILED, HttpError, cookieOptions, csrfMatches, ctx, requireCsrf, sendPage } from './security.ts';
import { UploadBudget, attachmentDisposition, readLimited, uploadName } from './streams.ts';

/*
 * The recipient's side: /m/<id> asks for what the sender chose (the message password from the
 * link's fragment, plus a passphrase, an answer or an e-mailed code), then a short recipient
 * session bound to that one message shows it, serves its attachments and takes a reply.
 */

const ID = /^[A-Za-z0-9_-]{22}$/;
const RECIPIENT_SESSION_MS = 60 * 60_000;
const TEXT_LIMIT = 2 * 1024 * 1024;
const HTML_LIMIT = 5 * 1024 * 1024;
const CODE_TTL_MINUTES = 10;
const DAY_MS = 86_400_000;

const FAILURE: Record<PickupFailure, { status: number; title: string }> = {
  'not-found': { status: 404, title: 'Message not found' },
  withdrawn: { status: 410, title: 'Message withdrawn' },
  locked: { status: 423, title: 'Message locked' },
  'wrong-credentials': { status: 401, title: 'Not opened' },
  'rate-limited': { status: 429, title: 'Too many attempts' },
  'code-expired': { status: 401, title: 'Code expired' },
};

/** Fills the password from the link's fragment; forms keep the fragment across their redirect. */
const OPEN_SCRIPT = `(function () {
  var hash = location.hash.slice(1), field = document.getElementById('password');
  if (hash && field && !field.value) { try { field.value = decodeURIComponent(hash); } catch (e) { field.value = hash; } }
  document.querySelectorAll('form.keep-hash').forEach(function (form) {
    form.addEventListener('submit', function () { if (location.hash) form.action = form.getAttribute('action') + location.hash; });
  });
})();`;
/** Once the message is open, the password leaves the address bar. */
const READ_SCRIPT = `if (location.hash) history.replaceState(null, '', location.pathname + location.search);`;

function checkId(id: string): void {
  if (!ID.test(id)) throw new HttpError(404, 'No such message. Check that the link was copied whole from the notice e-mail.');
}

function endPage(request: FastifyRequest, title: string, text: string, kind: 'error' | 'info' | 'ok' = 'error'): string {
  return page({ title, nonce: ctx(request).nonce, i18n: i18n(request), body: html`<h1>${title}</h1>${notice(kind, text)}` });
}

export function registerPortal(app: FastifyInstance, c: WebContext): void {
  const idleMs = c.config.web.idleTimeoutMs;
  /** Replies admitted under the daily cap whose upload is still being stored, by message id. */
  const repliesInFlight = new Map<string, number>();

  function openPage(request: FastifyRequest, facts: MessageFacts, message?: { kind: 'error' | 'info'; text: string }): string {
    const { csrf, nonce } = ctx(request);
    const action = `/m/${facts.id}`;
    const secret = facts.verification === 'passphrase'
      ? html`<label for="secret">Passphrase from the sender</label><input type="password" id="secret" name="secret" autocomplete="off" required>`
      : facts.verification === 'question'
        ? html`<label for="secret">${shown(facts.question)}</label><input type="text" id="secret" name="secret" autocomplete="off" required>`
        : html``;
    const code = facts.verification === 'code'
      ? html`<label for="code">One-time code</label><input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="12" required>`
      : html``;
    const sendCode = facts.verification === 'code'
      ? html`<form method="post" action="${action}/code" class="card keep-hash" id="code-form">${csrfField(csrf)}
<p>To open this message you need a one-time code. We e-mail it to ${maskAddress(facts.recipient)}.</p>
<button type="submit" class="secondary" id="send-code">E-mail me a code</button></form>`
      : html``;
    const body = html`<h1>A secure message for you</h1>
<p class="meta">From ${shown(facts.sender)} · available until ${formatTime(facts.expiresAt, i18n(request))}</p>
${message ? notice(message.kind, message.text) : ''}
${sendCode}
<form method="post" action="${action}" class="card keep-hash" id="open-form">${csrfField(csrf)}
<label for="password">Message password</label>
<input type="password" id="password" name="password" autocomplete="off" autocapitalize="characters" spellcheck="false" required>
<p class="meta">It is in the notice e-mail; the link there fills it in for you.</p>
${secret}${code}
${facts.verification !== 'link' ? html`<p class="meta" id="attempts-left">${facts.attemptsLeft} attempt${facts.attemptsLeft === 1 ? '' : 's'} left before the message locks.</p>` : ''}
<button type="submit" id="open">Open message</button>
</form>`;
    return page({ title: 'Secure message', nonce, i18n: i18n(request), body, script: OPEN_SCRIPT });
  }

  async function factsOrEnd(request: FastifyRequest, reply: FastifyReply, id: string): Promise<MessageFacts | undefined> {
    const facts = await c.pickup.describe(id);
    if (!facts) {
      sendPage(reply, 404, endPage(request, FAILURE['not-found'].title, 'No such message. Check that the link was copied whole from the notice e-mail.'));
      return undefined;
    }
    if (facts.state === 'retracted' || facts.state === 'expired') {
      sendPage(reply, 410, endPage(request, FAILURE.withdrawn.title, 'This message has been withdrawn by the sender or has expired. Ask the sender to send it again.'));
      return undefined;
    }
    if (facts.state === 'deleted') {
      sendPage(reply, 410, endPage(request, 'Message deleted', 'This message was deleted after it was read. Ask the sender to send it again.'));
      return undefined;
    }
    if (facts.state === 'locked') {
      sendPage(reply, 423, endPage(request, FAILURE.locked.title, 'This message is locked after too many failed attempts. Ask the sender to send it again.'));
      return undefined;
    }
    return facts;
  }

  /** The open message of this request's recipient session, or a reply already sent. */
  async function session(request: FastifyRequest, reply: FastifyReply, id: string): Promise<OpenedMessage | undefined> {
    const token = request.cookies[COOKIE.read];
    const resumed = await c.sessions.resume(token, 'recipient');
    if (resumed.status !== 'ok' || resumed.session.subject !== id || !resumed.session.secret) {
      const facts = await factsOrEnd(request, reply, id);
      if (facts) {
        const text = resumed.status === 'idle' ? 'You were signed out after a while without activity. Open the message again.' : 'Open the message first.';
        sendPage(reply, 401, openPage(request, facts, { kind: 'info', text }));
      }
      return undefined;
    }
    try {
      return await c.pickup.reopen(id, resumed.session.secret);
    } catch (error) {
      if (!isPickupError(error)) throw error;
      await c.sessions.end(token);
      reply.clearCookie(COOKIE.read, cookieOptions);
      const failure = FAILURE[error.reason];
      sendPage(reply, failure.status, endPage(request, failure.title, error.message));
      return undefined;
    }
  }

  app.get<{ Params: { id: string }; Querystring: { sent?: string } }>('/m/:id', async (request, reply) => {
    checkId(request.params.id);
    const facts = await factsOrEnd(request, reply, request.params.id);
    if (!facts) return reply;
    const resumed = await c.sessions.resume(request.cookies[COOKIE.read], 'recipient');
    if (resumed.status === 'ok' && resumed.session.subject === facts.id) return redirect(reply, `/m/${facts.id}/read`);
    const sent = request.query.sent === '1' ? { kind: 'info' as const, text: `We sent a code to ${maskAddress(facts.recipient)}. It is valid for ${CODE_TTL_MINUTES} minutes.` } : undefined;
    return sendPage(reply, 200, openPage(request, facts, sent));
  });

  app.post<{ Params: { id: string }; Body: { password?: string; secret?: string; code?: string } }>('/m/:id', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    const id = request.params.id;
    const ip = clientIp(request);
    let opened: OpenedMessage;
    try {
      opened = await c.pickup.open(id, { password: String(request.body?.password ?? ''), secret: request.body?.secret, code: request.body?.code }, { ip });
    } catch (error) {
      if (!isPickupError(error)) throw error;
      const failure = FAILURE[error.reason];
      const facts = error.reason === 'wrong-credentials' || error.reason === 'code-expired' || error.reason === 'rate-limited' ? await c.pickup.describe(id) : undefined;
      if (facts && (facts.state === 'active')) return sendPage(reply, failure.status, openPage(request, facts, { kind: 'error', text: error.message }));
      return sendPage(reply, failure.status, endPage(request, failure.title, error.message));
    }
    const token = await c.sessions.create('recipient', id, RECIPIENT_SESSION_MS, opened.readKey);
    reply.setCookie(COOKIE.read, token, cookieOptions);
    if (opened.firstOpen && opened.readNotice) {
      const mail = readNoticeMail(c.config, opened.sender, opened.recipient, new Date(c.clock.now()));
      try {
        await c.sendMail(mail.envelope, mail.raw);
        await c.pickup.recordEvent(id, 'read-notice-sent', null, opened.sender);
      } catch (error) {
        c.logger.warn({ err: (error as Error).message, messageId: id }, 'read notice not sent');
      }
    }
    return redirect(reply, `/m/${id}/read`);
  });

  app.post<{ Params: { id: string } }>('/m/:id/code', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    const id = request.params.id;
    const facts = await factsOrEnd(request, reply, id);
    if (!facts) return reply;
    if (facts.verification !== 'code') return redirect(reply, `/m/${id}`);
    try {
      // Each code e-mail costs an attempt and a code of the hour's budget (gate.ts), so the
      // link alone cannot flood the recipient's inbox.
      const code = await c.pickup.gate.issueCode(id, clientIp(request));
      const mail = codeMail(c.config, facts.recipient, code, CODE_TTL_MINUTES, new Date(c.clock.now()));
      await c.sendMail(mail.envelope, mail.raw);
    } catch (error) {
      if (!isPickupError(error)) {
        c.logger.error({ err: (error as Error).message, messageId: id }, 'one-time code not sent');
        return sendPage(reply, 503, openPage(request, facts, { kind: 'error', text: 'The code could not be e-mailed just now. Try again in a few minutes.' }));
      }
      return sendPage(reply, FAILURE[error.reason].status, openPage(request, facts, { kind: 'error', text: error.message }));
    }
    await c.pickup.recordEvent(id, 'code-sent', clientIp(request), maskAddress(facts.recipient));
    return redirect(reply, `/m/${id}?sent=1`);
  });

  app.get<{ Params: { id: string }; Querystring: { replied?: string } }>('/m/:id/read', async (request, reply) => {
    checkId(request.params.id);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const context = ctx(request);
    context.dataImages = true;
    const text = opened.parts.find((p) => p.kind === 'text');
    const htmlPart = opened.parts.find((p) => p.kind === 'html');
    const attachments = opened.parts.filter((p) => p.kind === 'attachment');
    let textBlock: Html = html``;
    if (text) {
      const { content, truncated } = await readLimited(opened.openPart(text.idx), TEXT_LIMIT);
      textBlock = html`<pre class="text-body" id="text-body">${content.toString('utf8')}</pre>${truncated ? notice('info', 'The text is longer than this page shows.') : ''}`;
    }
    let frame: Html = html``;
    if (htmlPart) {
      const { content, truncated } = await readLimited(opened.openPart(htmlPart.idx), HTML_LIMIT);
      // Sanitised when it was sealed (PickupStore.create); the sandbox and CSP still apply.
      const clean = content.toString('utf8');
      const blocked = countBlockedImages(clean);
      frame = html`<iframe class="html-body" id="html-body" title="Message" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc="${frameDocument(clean)}"></iframe>
${blocked ? html`<p class="meta">${blocked} remote image${blocked === 1 ? ' was' : 's were'} blocked: they would tell the sender's servers when and where you read this.</p>` : ''}
${truncated ? notice('info', 'The formatted text is longer than this page shows.') : ''}`;
    }
    const bodyBlock = htmlPart
      ? html`<section class="card">${frame}${text ? html`<details><summary>Plain text</summary>${textBlock}</details>` : ''}</section>`
      : text ? html`<section class="card">${textBlock}</section>` : html``;
    const files = attachments.length
      ? html`<section class="card"><h2>Attachments</h2><ul class="files">${attachments.map((p) => html`<li><a href="/m/${opened.id}/part/${p.idx}" download>${shown(p.filename ?? `attachment-${p.idx}`)}</a> <span class="meta">${formatSize(p.size)}</span></li>`)}</ul></section>`
      : html``;
    const action = `/m/${opened.id}`;
    const body = html`<h1 id="subject">${shown(opened.subject) || '(no subject)'}</h1>
<p class="meta">From ${shown(opened.sender)} to ${shown(opened.recipient)} · sent ${formatTime(opened.createdAt, i18n(request))} · available until ${formatTime(opened.expiresAt, i18n(request))}</p>
${request.query.replied === '1' ? notice('ok', 'Your reply was sent securely. The sender reads it in the Sealgate portal.') : ''}
${bodyBlock}${files}
<section class="card"><h2>Reply securely</h2>
<form method="post" action="${action}/reply" enctype="multipart/form-data" id="reply-form">${csrfField(context.csrf)}
<label for="reply-text">Your reply</label><textarea id="reply-text" name="text"></textarea>
<label for="reply-files">Attach files</label><input type="file" id="reply-files" name="files" multiple>
<button type="submit" id="send-reply">Send reply</button></form></section>
<section class="card row">
<form method="post" action="${action}/close">${csrfField(context.csrf)}<button type="submit" class="secondary">Close</button></form>
<form method="post" action="${action}/delete">${csrfField(context.csrf)}<button type="submit" class="danger" id="delete">Delete this message</button></form>
</section>`;
    return sendPage(reply, 200, page({ title: shown(opened.subject) || 'Secure message', nonce: context.nonce, i18n: i18n(request), body, script: READ_SCRIPT, idle: { afterMs: idleMs, url: `/m/${opened.id}` } }));
  });

  app.get<{ Params: { id: string; idx: string } }>('/m/:id/part/:idx', async (request, reply) => {
    checkId(request.params.id);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const part = opened.parts.find((p) => p.idx === Number(request.params.idx) && p.kind === 'attachment');
    if (!part) throw new HttpError(404, 'This message has no such attachment.');
    const name = shown(part.filename ?? `attachment-${part.idx}`);
    await c.pickup.recordEvent(opened.id, 'downloaded', clientIp(request), name);
    return sendAttachment(reply, name, part.size, opened.openPart(part.idx));
  });

  app.post<{ Params: { id: string } }>('/m/:id/reply', async (request, reply) => {
    checkId(request.params.id);
    if (!request.isMultipart()) throw new HttpError(400, 'Send the reply with the form on the message page.');
    const parts = request.parts()[Symbol.asyncIterator]();
    // The CSRF field is the form's first: checked before any upload is read.
    const first = await parts.next();
    if (first.done || first.value.type !== 'field' || first.value.fieldname !== '_csrf' || !csrfMatches(request, first.value.value)) throw new HttpError(403, CSRF_FAILED);
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
      throw new HttpError(429, `You have sent ${today} replies to this message today, the most it takes in a day. Try again tomorrow, or write to the sender another way.`);
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
    if (!text.trim() && pending.done) throw new HttpError(400, 'Write a reply or attach a file, then send it again.');
    let replyId: string;
    try {
      if (budget.exceeded) throw new HttpError(413, 'too large');
      replyId = await c.pickup.replies.create(opened, { text, attachments: files() }, clientIp(request));
    } catch (error) {
      if (!budget.exceeded) throw error;
      if (!pending.done) pending = await parts.next().catch(() => ({ done: true, value: undefined }) as const);
      await drain();
      throw new HttpError(413, `The reply is too large: its text and files together may be at most ${formatSize(c.config.limits.maxMessageBytes)}. Nothing was sent; send fewer or smaller files.`);
    }
    c.logger.info({ messageId: opened.id, replyId, files: fileCount }, 'secure reply stored');
    return redirect(reply, `/m/${opened.id}/read?replied=1`);
  });

  app.post<{ Params: { id: string } }>('/m/:id/delete', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    await c.pickup.deleteByRecipient(opened.id, clientIp(request));
    await c.sessions.endAllOf('recipient', opened.id);
    reply.clearCookie(COOKIE.read, cookieOptions);
    return sendPage(reply, 200, endPage(request, 'Message deleted', 'The message and its attachments are gone for good. The sender can see that you deleted it.', 'ok'));
  });

  app.post<{ Params: { id: string } }>('/m/:id/close', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    await c.sessions.end(request.cookies[COOKIE.read]);
    reply.clearCookie(COOKIE.read, cookieOptions);
    return sendPage(reply, 200, endPage(request, 'Closed', 'To read the message again, open the link in the notice e-mail.', 'info'));
  });
}

/** Streams decrypted content as a download; never held whole in memory. */
export function sendAttachment(reply: FastifyReply, filename: string, size: number, content: Readable): FastifyReply {
  return reply
    .header('content-type', 'application/octet-stream')
    .header('content-disposition', attachmentDisposition(filename))
    .header('content-length', String(size))
    .send(content);
}

export const pickupErrorPage = (request: FastifyRequest, reason: PickupFailure, message: string): { status: number; page: string } =>
  ({ status: FAILURE[reason].status, page: endPage(request, FAILURE[reason].title, message) });

