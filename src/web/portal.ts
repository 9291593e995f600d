import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { isPickupError, type MessageFacts, type OpenedMessage, type PickupError, type PickupFailure } from '../pickup/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatSize, notice, page, shown } from './layout.ts';
import { codeMail, maskAddress, newBrowserMail, readNoticeMail } from './notices.ts';
import { threadSection } from './reply-thread.ts';
import { countBlockedImages } from '../mail/index.ts';
import { FRAME_CSP, FRAME_SANDBOX, frameDocument } from './frame.ts';
import { CODE_TTL_MINUTES, FAILURE, endPage, failureText, openPage } from './portal-open.ts';
import { registerReply } from './portal-reply.ts';
import { COOKIE, HttpError, cookieOptions, ctx, requireCsrf, sendPage } from './security.ts';
import { attachmentDisposition, readLimited } from './streams.ts';

/*
 * The recipient's side: /m/<id> asks for what the sender chose (the message password from the
 * link's fragment, plus a passphrase, an answer or an e-mailed code), then a short recipient
 * session bound to that one message shows it, serves its attachments and takes a reply
 * (portal-reply.ts). The first browser that opens a message is bound to it by a cookie scoped
 * to the message's path (pickup/browser-binding.ts); any other browser needs a fresh code.
 */

const ID = /^[A-Za-z0-9_-]{22}$/;
const RECIPIENT_SESSION_MS = 60 * 60_000;
const TEXT_LIMIT = 2 * 1024 * 1024;
const HTML_LIMIT = 5 * 1024 * 1024;

/**
 * The browser binding: `__Secure-` (only ever set over HTTPS), HttpOnly (no script reads it),
 * SameSite=Strict, and Path=/m/<id> so it goes with its own message's requests only. It cannot
 * be `__Host-`, which demands Path=/. Kept until the message expires (browsers cap at 400 days).
 */
export const BINDING_COOKIE = '__Secure-sg-bind';
const BINDING_MAX_S = 400 * 86_400;
const bindingOptions = (id: string) => ({ path: `/m/${id}`, secure: true, httpOnly: true, sameSite: 'strict' as const });

/**
 * Once the message is open, the password leaves the address bar; the message frame takes the
 * height of its content (frame.ts says why the page may read it), again as the width changes.
 */
const READ_SCRIPT = `(function () {
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  var frame = document.getElementById('html-body');
  if (!frame) return;
  function fit() {
    try {
      var doc = frame.contentDocument;
      if (!doc || !doc.documentElement) return;
      frame.style.height = Math.max(80, doc.documentElement.scrollHeight) + 'px';
    } catch (e) { /* not readable: the stylesheet's height stays */ }
  }
  frame.addEventListener('load', function () {
    fit();
    try { new ResizeObserver(fit).observe(frame.contentDocument.body); } catch (e) {}
  });
  fit();
})();`;

function checkId(id: string): void {
  if (!ID.test(id)) throw new HttpError(404, 'No such message. Check that the link was copied whole from the notice e-mail.');
}

interface OpenBody {
  password?: string;
  secret?: string;
  code?: string;
  resend?: string;
}

export function registerPortal(app: FastifyInstance, c: WebContext): void {
  const idleMs = c.config.web.idleTimeoutMs;

  async function factsOrEnd(request: FastifyRequest, reply: FastifyReply, id: string): Promise<MessageFacts | undefined> {
    const tr = i18n(request);
    const facts = await c.pickup.describe(id);
    if (!facts) {
      sendPage(reply, 404, endPage(request, tr.text('portal.notFound.title'), tr.t('portal.notFound.text')));
      return undefined;
    }
    if (facts.state === 'retracted' || facts.state === 'expired') {
      sendPage(reply, 410, endPage(request, tr.text('portal.withdrawn.title'), tr.t('portal.withdrawn.text')));
      return undefined;
    }
    if (facts.state === 'deleted') {
      sendPage(reply, 410, endPage(request, tr.text('portal.deleted.title'), tr.t('portal.deleted.text')));
      return undefined;
    }
    if (facts.state === 'locked') {
      sendPage(reply, 423, endPage(request, tr.text('portal.locked.title'), tr.t('portal.locked.text')));
      return undefined;
    }
    return facts;
  }

  /** Whether a code is out, and since when (the page focuses its field and holds back "Send a new code"). */
  async function codeState(id: string): Promise<{ codeLive: boolean; codeSentAt: number | null; now: number }> {
    const codeSentAt = await c.pickup.gate.latestCodeAt(id);
    return { codeLive: codeSentAt !== null, codeSentAt, now: c.clock.now() };
  }
  const codeLive = async (id: string) => (await c.pickup.gate.latestCodeAt(id)) !== null;

  /** The open message of this request's recipient session, or a reply already sent. */
  async function session(request: FastifyRequest, reply: FastifyReply, id: string): Promise<OpenedMessage | undefined> {
    const token = request.cookies[COOKIE.read];
    const resumed = await c.sessions.resume(token, 'recipient');
    if (resumed.status !== 'ok' || resumed.session.subject !== id || !resumed.session.secret) {
      const facts = await factsOrEnd(request, reply, id);
      if (facts) {
        const tr = i18n(request);
        const text = resumed.status === 'idle' ? tr.t('portal.signedOutIdle') : tr.t('portal.openFirst');
        sendPage(reply, 401, openPage(request, facts, { message: { kind: 'info', text }, ...(await codeState(id)) }));
      }
      return undefined;
    }
    try {
      return await c.pickup.reopen(id, resumed.session.secret);
    } catch (error) {
      if (!isPickupError(error)) throw error;
      await c.sessions.end(token);
      reply.clearCookie(COOKIE.read, cookieOptions);
      const failure = pickupErrorPage(request, error.reason, error.message);
      sendPage(reply, failure.status, failure.page);
      return undefined;
    }
  }

  /** E-mails a one-time code to the recipient; the failure as a sentence for the page, or undefined when sent. */
  async function sendCode(request: FastifyRequest, facts: MessageFacts, purpose: 'verification' | 'new-browser'): Promise<PickupError | Html | undefined> {
    try {
      // Each code e-mail costs an attempt and a code of the hour's budget (gate.ts), so the
      // link alone cannot flood the recipient's inbox.
      const code = await c.pickup.gate.issueCode(facts.id, clientIp(request), purpose);
      const mail = codeMail(c.config, facts.recipient, code, CODE_TTL_MINUTES, new Date(c.clock.now()));
      await c.sendMail(mail.envelope, mail.raw);
    } catch (error) {
      if (isPickupError(error)) return error;
      c.logger.error({ err: (error as Error).message, messageId: facts.id }, 'one-time code not sent');
      return i18n(request).t('portal.code.notSent');
    }
    await c.pickup.recordEvent(facts.id, 'code-sent', clientIp(request), `${maskAddress(facts.recipient)}${purpose === 'new-browser' ? ' (new browser)' : ''}`);
    return undefined;
  }

  /** A browser the message is not bound to proved its password: logged, and the sender told (at most hourly). */
  async function newBrowser(request: FastifyRequest, facts: MessageFacts): Promise<void> {
    if (!(await c.pickup.gate.newBrowser(facts.id, clientIp(request)))) return;
    const mail = newBrowserMail(c.config, facts.sender, facts.recipient, new Date(c.clock.now()));
    try {
      await c.sendMail(mail.envelope, mail.raw);
      await c.pickup.recordEvent(facts.id, 'new-browser-notice-sent', null, facts.sender);
    } catch (error) {
      c.logger.warn({ err: (error as Error).message, messageId: facts.id }, 'new-browser notice not sent');
    }
  }

  app.get<{ Params: { id: string } }>('/m/:id', async (request, reply) => {
    checkId(request.params.id);
    const facts = await factsOrEnd(request, reply, request.params.id);
    if (!facts) return reply;
    const resumed = await c.sessions.resume(request.cookies[COOKIE.read], 'recipient');
    if (resumed.status === 'ok' && resumed.session.subject === facts.id) return redirect(reply, `/m/${facts.id}/read`);
    const code = facts.verification === 'code' ? await codeState(facts.id) : { codeLive: false };
    const tr = i18n(request);
    const message = code.codeLive ? { kind: 'info' as const, text: tr.t('portal.code.sent', { address: maskAddress(facts.recipient), minutes: CODE_TTL_MINUTES }) } : undefined;
    return sendPage(reply, 200, openPage(request, facts, { message, ...code }));
  });

  app.post<{ Params: { id: string }; Body: OpenBody }>('/m/:id', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    const id = request.params.id;
    const ip = clientIp(request);
    const tr = i18n(request);
    const password = String(request.body?.password ?? '');
    const resend = request.body?.resend === '1';
    if (resend) {
      // "Send a new code" of a message verified by code: no open attempt, just the code.
      const facts = await factsOrEnd(request, reply, id);
      if (!facts) return reply;
      if (facts.verification === 'code') {
        const failed = await sendCode(request, facts, 'verification');
        const text = failed === undefined ? tr.t('portal.code.sent', { address: maskAddress(facts.recipient), minutes: CODE_TTL_MINUTES }) : failed instanceof Error ? failureText(tr, failed, facts) : failed;
        return sendPage(reply, failed === undefined ? 200 : 429, openPage(request, facts, { message: { kind: failed === undefined ? 'info' : 'error', text }, password, ...(await codeState(id)) }));
      }
    }
    let opened: OpenedMessage;
    try {
      opened = await c.pickup.open(id, { password, secret: request.body?.secret, code: resend ? undefined : request.body?.code }, { ip, browser: { binding: request.cookies[BINDING_COOKIE] } });
    } catch (error) {
      if (!isPickupError(error)) throw error;
      const facts = await c.pickup.describe(id);
      if (!facts || facts.state !== 'active' || !['wrong-credentials', 'code-expired', 'rate-limited', 'code-required'].includes(error.reason)) {
        const failure = pickupErrorPage(request, error.reason, error.message);
        return sendPage(reply, failure.status, failure.page);
      }
      if (error.newBrowser) await newBrowser(request, facts);
      if (error.reason === 'code-required') {
        // The message password was right, the browser is not bound: a code goes to the recipient's mailbox.
        const address = maskAddress(facts.recipient);
        const live = await codeLive(id);
        const failed = live && !resend ? undefined : await sendCode(request, facts, 'new-browser');
        const text = failed === undefined ? tr.t(live && !resend ? 'portal.newBrowser.codeLive' : 'portal.newBrowser.codeSent', { address }) : failed instanceof Error ? failureText(tr, failed, facts) : failed;
        return sendPage(reply, FAILURE[error.reason].status, openPage(request, facts, {
          message: { kind: failed === undefined ? 'info' : 'error', text }, password, codeStep: true, ...(await codeState(id)), newBrowser: true,
        }));
      }
      // Verification by code, or a new browser's code, keeps the code step on the page.
      const codeStep = facts.verification === 'code' || error.newBrowser;
      return sendPage(reply, FAILURE[error.reason].status, openPage(request, facts, {
        message: { kind: 'error', text: failureText(tr, error, facts) }, invalid: error.field, password, codeStep, ...(await codeState(id)), newBrowser: error.newBrowser,
      }));
    }
    if (opened.binding) {
      const maxAge = Math.max(60, Math.min(BINDING_MAX_S, Math.floor((opened.expiresAt - c.clock.now()) / 1000)));
      reply.setCookie(BINDING_COOKIE, opened.binding, { ...bindingOptions(id), maxAge });
    }
    const token = await c.sessions.create('recipient', id, RECIPIENT_SESSION_MS, opened.readKey);
    reply.setCookie(COOKIE.read, token, cookieOptions);
    // Issue 13 "message opened": who, from where, first time or again; nothing of the content.
    await c.audit.record({ actor: opened.recipient, action: 'message.opened', target: id, ip, protocol: 'portal', detail: { sender: opened.sender, firstOpen: opened.firstOpen, newBrowser: Boolean(opened.newBrowser) } });
    if (opened.newBrowser) {
      const facts = await c.pickup.describe(id);
      if (facts) await newBrowser(request, facts);
    }
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
    const failed = await sendCode(request, facts, 'verification');
    if (failed !== undefined) {
      const status = failed instanceof Error ? FAILURE[failed.reason].status : 503;
      const text = failed instanceof Error ? failureText(i18n(request), failed, facts) : failed;
      return sendPage(reply, status, openPage(request, facts, { message: { kind: 'error', text }, ...(await codeState(id)) }));
    }
    return redirect(reply, `/m/${id}?sent=1`);
  });

  app.get<{ Params: { id: string }; Querystring: { replied?: string } }>('/m/:id/read', async (request, reply) => {
    checkId(request.params.id);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const tr = i18n(request);
    const context = ctx(request);
    const text = opened.parts.find((p) => p.kind === 'text');
    const htmlPart = opened.parts.find((p) => p.kind === 'html');
    const attachments = opened.parts.filter((p) => p.kind === 'attachment');
    let textBlock: Html = html``;
    if (text) {
      const { content, truncated } = await readLimited(opened.openPart(text.idx), TEXT_LIMIT);
      textBlock = html`<pre class="text-body" id="text-body">${content.toString('utf8')}</pre>${truncated ? notice('info', tr.t('portal.read.textTruncated')) : ''}`;
    }
    let frame: Html = html``;
    if (htmlPart) {
      const { content, truncated } = await readLimited(opened.openPart(htmlPart.idx), HTML_LIMIT);
      const blocked = countBlockedImages(content.toString('utf8'));
      context.framesMessage = true;
      frame = html`<iframe class="html-body" id="html-body" title="${tr.text('portal.read.frameTitle')}" sandbox="${FRAME_SANDBOX}" referrerpolicy="no-referrer" src="/m/${opened.id}/body"></iframe>
${blocked ? html`<p class="meta">${tr.t('portal.read.blockedImages', { count: blocked })}</p>` : ''}
${truncated ? notice('info', tr.t('portal.read.htmlTruncated')) : ''}`;
    }
    const bodyBlock = htmlPart
      ? html`<section class="card">${frame}${text ? html`<details><summary>${tr.text('portal.read.plainText')}</summary>${textBlock}</details>` : ''}</section>`
      : text ? html`<section class="card">${textBlock}</section>` : html``;
    const files = attachments.length
      ? html`<section class="card"><h2>${tr.text('portal.read.attachments')}</h2><ul class="files">${attachments.map((p) => html`<li><a href="/m/${opened.id}/part/${p.idx}" download>${shown(p.filename ?? `attachment-${p.idx}`)}</a> <span class="meta">${formatSize(p.size)}</span></li>`)}</ul></section>`
      : html``;
    const action = `/m/${opened.id}`;
    const subject = shown(opened.subject) || tr.text('portal.read.noSubject');
    const body = html`<h1 id="subject">${subject}</h1>
<p class="meta">${tr.t('portal.read.meta', { sender: shown(opened.sender), recipient: shown(opened.recipient), sent: tr.time(opened.createdAt), expires: tr.time(opened.expiresAt) })}</p>
${request.query.replied === '1' ? notice('ok', tr.t('portal.read.replied')) : ''}
${bodyBlock}${files}
${await threadSection(c, request, opened)}
<section class="card"><h2>${tr.text('portal.reply.heading')}</h2>
<form method="post" action="${action}/reply" enctype="multipart/form-data" id="reply-form">${csrfField(context.csrf)}
<label for="reply-text">${tr.text('portal.reply.label')}</label><textarea id="reply-text" name="text"></textarea>
<label for="reply-files">${tr.text('portal.reply.files')}</label><input type="file" id="reply-files" name="files" multiple>
<button type="submit" id="send-reply">${tr.text('portal.reply.submit')}</button></form></section>
<section class="card row">
<form method="post" action="${action}/close">${csrfField(context.csrf)}<button type="submit" class="secondary" id="sign-out">${tr.text('portal.signOut')}</button></form>
<form method="post" action="${action}/delete">${csrfField(context.csrf)}<button type="submit" class="danger" id="delete">${tr.text('portal.delete')}</button></form>
</section>`;
    return sendPage(reply, 200, page({ title: subject, nonce: context.nonce, i18n: tr, body, script: READ_SCRIPT, idle: { afterMs: idleMs, url: `/m/${opened.id}` } }));
  });

  // The message's HTML as the frame's own document (frame.ts): its own CSP, this origin may frame it.
  app.get<{ Params: { id: string } }>('/m/:id/body', async (request, reply) => {
    checkId(request.params.id);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const htmlPart = opened.parts.find((p) => p.kind === 'html');
    if (!htmlPart) throw new HttpError(404, i18n(request).text('error.404'));
    const { content } = await readLimited(opened.openPart(htmlPart.idx), HTML_LIMIT);
    ctx(request).framedCsp = FRAME_CSP;
    // Sanitised when it was sealed (PickupStore.create); the sandbox and CSP still apply.
    return reply.code(200).type('text/html; charset=utf-8').send(frameDocument(content.toString('utf8')));
  });

  app.get<{ Params: { id: string; idx: string } }>('/m/:id/part/:idx', async (request, reply) => {
    checkId(request.params.id);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const part = opened.parts.find((p) => p.idx === Number(request.params.idx) && p.kind === 'attachment');
    if (!part) throw new HttpError(404, i18n(request).text('portal.noAttachment'));
    const name = shown(part.filename ?? `attachment-${part.idx}`);
    await c.pickup.recordEvent(opened.id, 'downloaded', clientIp(request), name);
    return sendAttachment(reply, name, part.size, opened.openPart(part.idx));
  });

  registerReply(app, c, checkId, session);

  // Deleting asks first: the read page's button leads to this confirmation (no script needed),
  // whose own button sends `confirm=yes`.
  app.post<{ Params: { id: string }; Body: { confirm?: string } }>('/m/:id/delete', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    const opened = await session(request, reply, request.params.id);
    if (!opened) return reply;
    const tr = i18n(request);
    if (request.body?.confirm !== 'yes') {
      const { csrf, nonce } = ctx(request);
      const body = html`<h1>${tr.text('portal.delete.title')}</h1>
<p class="meta">${shown(opened.subject) || tr.text('portal.read.noSubject')}</p>
<section class="card"><p id="delete-warning">${tr.t('portal.delete.text')}</p>
<div class="row">
<form method="post" action="/m/${opened.id}/delete">${csrfField(csrf)}<input type="hidden" name="confirm" value="yes"><button type="submit" class="danger" id="confirm-delete" aria-describedby="delete-warning">${tr.text('portal.delete.confirm')}</button></form>
<a href="/m/${opened.id}/read" id="cancel-delete">${tr.text('portal.delete.cancel')}</a>
</div></section>`;
      return sendPage(reply, 200, page({ title: tr.text('portal.delete.title'), nonce, i18n: tr, body }));
    }
    await c.pickup.deleteByRecipient(opened.id, clientIp(request));
    await c.sessions.endAllOf('recipient', opened.id);
    reply.clearCookie(COOKIE.read, cookieOptions);
    reply.clearCookie(BINDING_COOKIE, bindingOptions(opened.id));
    return sendPage(reply, 200, endPage(request, tr.text('portal.deleted.title'), tr.t('portal.deleted.done'), 'ok'));
  });

  app.post<{ Params: { id: string } }>('/m/:id/close', async (request, reply) => {
    checkId(request.params.id);
    requireCsrf(request);
    const tr = i18n(request);
    await c.sessions.end(request.cookies[COOKIE.read]);
    reply.clearCookie(COOKIE.read, cookieOptions);
    return sendPage(reply, 200, endPage(request, tr.text('portal.signedOut.title'), tr.t('portal.signedOut.text'), 'info'));
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

export function pickupErrorPage(request: FastifyRequest, reason: PickupFailure, message: string): { status: number; page: string } {
  const tr = i18n(request);
  const text = reason === 'locked' ? tr.t('portal.locked.text') : reason === 'withdrawn' ? tr.t('portal.withdrawn.text') : reason === 'not-found' ? tr.t('portal.notFound.text') : message;
  return { status: FAILURE[reason].status, page: endPage(request, tr.text(FAILURE[reason].title), text) };
}
