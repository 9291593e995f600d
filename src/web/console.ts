import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { waitText } from '../accounts/index.ts';
import { isPickupError, type PickupEvent } from '../pickup/index.ts';
import { registerCompose } from './compose.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatSize, formatTime, notice, page, shown } from './layout.ts';
import { sendAttachment } from './portal.ts';
import { COOKIE, HttpError, cookieOptions, ctx, requireCsrf, sendPage } from './security.ts';
import { readLimited } from './streams.ts';

/*
 * The sender's side: log in with the gateway account (the user name is the sender address),
 * see each secure message's state and access log, read replies, retract, change the expiry.
 * The sender never sees the message content here: it is sealed under the recipient's link.
 */

const SENDER_SESSION_MS = 12 * 3_600_000;
const DAY_MS = 86_400_000;
const ID = /^[A-Za-z0-9_-]{22}$/;

const EVENT_TEXT: Record<string, string> = {
  created: 'created', 'notice-sent': 'notice sent', opened: 'opened', 'failed-attempt': 'failed attempt', locked: 'locked',
  downloaded: 'attachment downloaded', replied: 'replied', retracted: 'retracted', expired: 'expired', deleted: 'deleted by the recipient',
  'expiry-changed': 'expiry changed', 'code-sent': 'one-time code sent', 'read-notice-sent': 'read notice sent', unlocked: 'unlocked',
};

function stateOf(state: string, openedAt: number | null, events: PickupEvent[]): string {
  if (state !== 'active') return state;
  if (events.some((e) => e.kind === 'replied')) return 'replied';
  if (openedAt !== null) return 'opened';
  if (events.some((e) => e.kind === 'notice-sent')) return 'notice sent';
  return 'waiting';
}

export function registerConsole(app: FastifyInstance, c: WebContext): void {
  const idleMs = c.config.web.idleTimeoutMs;

  function consolePage(request: FastifyRequest, user: string, title: string, body: Html, script?: string): string {
    const { nonce, csrf } = ctx(request);
    const header = html`<form method="post" action="/console/logout">${csrfField(csrf)}<span class="meta">${user}</span> <button type="submit" class="secondary" id="logout">Log out</button></form>`;
    return page({ title, nonce, i18n: i18n(request), body, header, script, idle: { afterMs: idleMs, url: '/console/login?idle=1' } });
  }

  function loginPage(request: FastifyRequest, message?: { kind: 'error' | 'info' | 'ok'; text: string }): string {
    const { nonce, csrf } = ctx(request);
    const body = html`<h1>Sender console</h1>${message ? notice(message.kind, message.text) : ''}
<form method="post" action="/console/login" class="card" id="login-form">${csrfField(csrf)}
<label for="username">E-mail address</label><input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="login">Log in</button></form>`;
    return page({ title: 'Log in', nonce, i18n: i18n(request), body });
  }

  /** The signed-in sender, or undefined after sending the login page's redirect. */
  async function sender(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    const token = request.cookies[COOKIE.console];
    const resumed = await c.sessions.resume(token, 'sender');
    if (resumed.status === 'ok') {
      // The session outlives nothing of the account: a removed or disabled user is out at once.
      if (await c.users.isActive(resumed.session.subject)) return resumed.session.subject;
      await c.sessions.end(token);
      c.logger.warn({ username: resumed.session.subject }, 'console session of a removed or disabled user ended');
    }
    reply.clearCookie(COOKIE.console, cookieOptions);
    redirect(reply, resumed.status === 'idle' ? '/console/login?idle=1' : '/console/login');
    return undefined;
  }

  async function ownMessage(user: string, id: string) {
    const facts = ID.test(id) ? await c.pickup.describe(id) : undefined;
    // Someone else's message reads as unknown, so ids cannot be probed.
    if (!facts || facts.sender !== user) throw new HttpError(404, 'No such message among yours.');
    return facts;
  }

  app.get<{ Querystring: { idle?: string; out?: string } }>('/console/login', async (request, reply) => {
    const message = request.query.idle === '1' ? { kind: 'info' as const, text: `You were logged off after ${Math.round(idleMs / 60_000)} minutes without activity.` }
      : request.query.out === '1' ? { kind: 'ok' as const, text: 'You are logged off.' } : undefined;
    return sendPage(reply, 200, loginPage(request, message));
  });

  app.post<{ Body: { username?: string; password?: string } }>('/console/login', async (request, reply) => {
    requireCsrf(request);
    const ip = clientIp(request);
    const username = String(request.body?.username ?? '').trim();
    // The budgets SMTP AUTH spends too (accounts/login-budget.ts, OWASP ASVS L2 V2.2.1).
    const outcome = username === '' ? { status: 'invalid' as const } : await c.users.login(username, String(request.body?.password ?? ''), ip);
    if (outcome.status === 'locked' || outcome.status === 'slow-down') {
      c.logger.warn({ ip, username, status: outcome.status }, 'console login refused by the login budget');
      reply.header('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
      const text = outcome.status === 'locked'
        ? `Too many failed logins for this account or from your network. Wait ${waitText(outcome.retryAfterMs)} and try again.`
        : `Too many failed logins in a row. Wait ${waitText(outcome.retryAfterMs)} before the next try.`;
      return sendPage(reply, 429, loginPage(request, { kind: 'error', text }));
    }
    if (outcome.status !== 'ok') {
      c.logger.warn({ ip, username }, 'console login failed');
      return sendPage(reply, 401, loginPage(request, { kind: 'error', text: 'The e-mail address or the password is not right.' }));
    }
    await c.sessions.end(request.cookies[COOKIE.console]);
    reply.setCookie(COOKIE.console, await c.sessions.create('sender', username, SENDER_SESSION_MS), cookieOptions);
    c.logger.info({ ip, username }, 'console login');
    return redirect(reply, '/console');
  });

  app.post('/console/logout', async (request, reply) => {
    requireCsrf(request);
    await c.sessions.end(request.cookies[COOKIE.console]);
    reply.clearCookie(COOKIE.console, cookieOptions);
    return redirect(reply, '/console/login?out=1');
  });

  app.get<{ Querystring: { sent?: string } }>('/console', async (request, reply) => {
    const user = await sender(request, reply);
    if (!user) return reply;
    const messages = await c.pickup.listBySender(user);
    const rows = await Promise.all(messages.slice(0, 500).map(async (m) => {
      const [events, replies] = await Promise.all([c.pickup.events(m.id), c.pickup.replies.list(m.id)]);
      const state = stateOf(m.state, m.openedAt, events);
      return html`<tr><td><a href="/console/m/${m.id}">${shown(m.recipient)}</a></td><td>${formatTime(m.createdAt, i18n(request))}</td>
<td><span class="state ${state.replace(' ', '-')}">${state}</span></td><td>${formatTime(m.openedAt, i18n(request))}</td><td>${replies.length || ''}</td><td>${formatTime(m.expiresAt, i18n(request))}</td></tr>`;
    }));
    const sent = Number(request.query.sent);
    const sentText = Number.isInteger(sent) && sent > 0 && sent <= 1000 ? `Sent ${sent} secure message${sent === 1 ? '' : 's'}. Each recipient gets a notice e-mail with their own link and message password.` : undefined;
    const body = html`<h1>Your secure messages</h1>
${notice('ok', sentText)}
<p><a href="/console/compose" class="button" id="compose">Write a secure message</a></p>
${messages.length ? html`<div class="card table-wrap"><table id="messages"><thead><tr><th>Recipient</th><th>Sent</th><th>State</th><th>Opened</th><th>Replies</th><th>Expires</th></tr></thead>
<tbody>${rows}</tbody></table></div>` : notice('info', 'No secure messages yet. Messages you send with [secure] in the subject appear here.')}`;
    return sendPage(reply, 200, consolePage(request, user, 'Secure messages', body));
  });

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/console/m/:id', async (request, reply) => {
    const user = await sender(request, reply);
    if (!user) return reply;
    const facts = await ownMessage(user, request.params.id);
    const [events, replies] = await Promise.all([c.pickup.events(facts.id), c.pickup.replies.list(facts.id)]);
    const state = stateOf(facts.state, facts.openedAt, events);
    const { csrf } = ctx(request);
    const live = facts.state === 'active' || facts.state === 'locked';
    const done: Record<string, string> = { retracted: 'The message is retracted: its key is destroyed and the link now says it was withdrawn.', expiry: 'The expiry is changed.', unlocked: 'The message is unlocked: the recipient has all attempts again.' };
    const days = Math.max(1, Math.ceil((facts.expiresAt - c.clock.now()) / DAY_MS));
    const body = html`<h1>Secure message to ${shown(facts.recipient)}</h1>
<p class="meta">Sent ${formatTime(facts.createdAt, i18n(request))} · verification by ${facts.verification} · expires ${formatTime(facts.expiresAt, i18n(request))} · <span class="state ${state.replace(' ', '-')}" id="state">${state}</span></p>
${notice('ok', done[request.query.done ?? ''])}
<p class="meta">Subject and content are sealed under the recipient's link; not even this console can read them.</p>
${live ? html`<section class="card row">
<form method="post" action="/console/m/${facts.id}/expiry">${csrfField(csrf)}<label for="days">Expires in (days)</label><input type="number" id="days" name="days" min="1" max="3650" value="${days}"><button type="submit" class="secondary">Change expiry</button></form>
<form method="post" action="/console/m/${facts.id}/retract">${csrfField(csrf)}<button type="submit" class="danger" id="retract">Retract message</button></form>
</section>` : ''}
${facts.state === 'locked' ? html`<section class="card"><p>Locked after ${c.pickup.gate.maxFailures} failed attempts at the ${facts.verification === 'question' ? 'answer' : facts.verification}. If they were the recipient's own, unlock it; the access log shows where they came from.</p>
<form method="post" action="/console/m/${facts.id}/unlock">${csrfField(csrf)}<button type="submit" class="secondary" id="unlock">Unlock message</button></form></section>` : ''}
<h2>Replies</h2>
${replies.length ? html`<div class="card"><ul class="files" id="replies">${replies.map((r) => html`<li><a href="/console/reply/${r.replyId}">Reply of ${formatTime(r.createdAt, i18n(request))}</a> <span class="meta">${r.state}</span></li>`)}</ul></div>` : html`<p class="meta">No replies.</p>`}
<h2>Access log</h2>
<div class="card table-wrap"><table id="access-log"><thead><tr><th>Time</th><th>Event</th><th>Address</th><th>Detail</th></tr></thead><tbody>
${events.map((e) => html`<tr><td>${formatTime(e.at, i18n(request))}</td><td>${EVENT_TEXT[e.kind] ?? e.kind}</td><td>${e.ip ?? ''}</td><td>${e.kind === 'replied' ? '' : shown(e.detail ?? '')}</td></tr>`)}
</tbody></table></div>
<p><a href="/console">All messages</a></p>`;
    return sendPage(reply, 200, consolePage(request, user, `Message to ${shown(facts.recipient)}`, body));
  });

  app.post<{ Params: { id: string } }>('/console/m/:id/retract', async (request, reply) => {
    requireCsrf(request);
    const user = await sender(request, reply);
    if (!user) return reply;
    const facts = await ownMessage(user, request.params.id);
    await c.pickup.retract(facts.id, clientIp(request));
    await c.sessions.endAllOf('recipient', facts.id);
    return redirect(reply, `/console/m/${facts.id}?done=retracted`);
  });

  // Only the sender may lift a lock, and it is audited (issue 9 item 13).
  app.post<{ Params: { id: string } }>('/console/m/:id/unlock', async (request, reply) => {
    requireCsrf(request);
    const user = await sender(request, reply);
    if (!user) return reply;
    const facts = await ownMessage(user, request.params.id);
    if (!(await c.pickup.gate.unlock(facts.id, user, clientIp(request)))) throw new HttpError(409, 'This message is withdrawn or expired; there is nothing to unlock.');
    c.logger.info({ audit: true, action: 'pickup.unlock', messageId: facts.id, user, ip: clientIp(request) }, 'pickup message unlocked by its sender');
    return redirect(reply, `/console/m/${facts.id}?done=unlocked`);
  });

  app.post<{ Params: { id: string }; Body: { days?: string } }>('/console/m/:id/expiry', async (request, reply) => {
    requireCsrf(request);
    const user = await sender(request, reply);
    if (!user) return reply;
    const facts = await ownMessage(user, request.params.id);
    const days = Number(request.body?.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new HttpError(400, 'The expiry must be a whole number of days from 1 to 3650.');
    try {
      await c.pickup.changeExpiry(facts.id, c.clock.now() + days * DAY_MS, clientIp(request));
    } catch (error) {
      if (isPickupError(error)) throw new HttpError(409, 'This message is withdrawn or expired; its expiry cannot change.');
      throw error;
    }
    return redirect(reply, `/console/m/${facts.id}?done=expiry`);
  });

  async function ownReply(request: FastifyRequest, user: string, replyId: string) {
    const original = ID.test(replyId) ? await c.pickup.replies.originalOf(replyId) : undefined;
    if (!original) throw new HttpError(404, 'No such reply.');
    await ownMessage(user, original);
    try {
      return { original, reply: await c.pickup.replies.open(replyId, clientIp(request)) };
    } catch (error) {
      if (isPickupError(error)) throw new HttpError(error.reason === 'rate-limited' ? 429 : 410, error.message);
      throw error;
    }
  }

  app.get<{ Params: { replyId: string } }>('/console/reply/:replyId', async (request, reply) => {
    const user = await sender(request, reply);
    if (!user) return reply;
    const { original, reply: opened } = await ownReply(request, user, request.params.replyId);
    const textPart = opened.parts.find((p) => p.kind === 'text');
    const text = textPart ? (await readLimited(opened.openPart(textPart.idx), 2 * 1024 * 1024)).content.toString('utf8') : '';
    const files = opened.parts.filter((p) => p.kind === 'attachment');
    const body = html`<h1>${shown(opened.subject)}</h1>
<p class="meta">From ${shown(opened.sender)} · ${formatTime(opened.createdAt, i18n(request))}</p>
<section class="card"><pre class="text-body" id="reply-text">${text}</pre></section>
${files.length ? html`<section class="card"><h2>Attachments</h2><ul class="files">${files.map((p) => html`<li><a href="/console/reply/${opened.id}/part/${p.idx}" download>${shown(p.filename ?? `attachment-${p.idx}`)}</a> <span class="meta">${formatSize(p.size)}</span></li>`)}</ul></section>` : ''}
<p><a href="/console/m/${original}">Back to the message</a></p>`;
    return sendPage(reply, 200, consolePage(request, user, shown(opened.subject), body));
  });

  app.get<{ Params: { replyId: string; idx: string } }>('/console/reply/:replyId/part/:idx', async (request, reply) => {
    const user = await sender(request, reply);
    if (!user) return reply;
    const { reply: opened } = await ownReply(request, user, request.params.replyId);
    const part = opened.parts.find((p) => p.idx === Number(request.params.idx) && p.kind === 'attachment');
    if (!part) throw new HttpError(404, 'This reply has no such attachment.');
    const name = shown(part.filename ?? `attachment-${part.idx}`);
    return sendAttachment(reply, name, part.size, opened.openPart(part.idx));
  });

  registerCompose(app, c, { sender, consolePage });
}
