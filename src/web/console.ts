import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { waitText } from '../accounts/index.ts';
import { registerCompose } from './compose.ts';
import { registerConsoleAnalyze } from './console-analyze.ts';
import { registerConsoleList } from './console-list.ts';
import { registerConsoleMessage } from './console-message.ts';
import { registerConsoleReplies } from './console-replies.ts';
import { registerConsoleSessions } from './console-sessions.ts';
import type { Session } from './sessions.ts';
import { beginEnrolment, registerEnrolment } from './second-factor-enrol.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, notice, page } from './layout.ts';
import { COOKIE, cookieOptions, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * The sender's side: sign in with the gateway account (the user name is the sender address),
 * then the list (console-list.ts), one message with its access log and actions
 * (console-message.ts), replies (console-replies.ts) and compose (compose.ts). The sender never
 * sees the message content here: it is sealed under the recipient's link; only subject and
 * attachment names are shown, from the sender view that retraction destroys (pickup/sender-view.ts).
 */

export function registerConsole(app: FastifyInstance, c: WebContext): void {
  const idleMs = c.config.web.idleTimeoutMs;
  // The session each request resumed: its idle limit drives the page's own log-off timer.
  const resumedSessions = new WeakMap<FastifyRequest, Session>();

  /** The idle limit for a user: the shortest of their roles' (web.idleTimeoutByRole), else the default. */
  async function idleFor(username: string): Promise<number> {
    const byRole = c.config.web.idleTimeoutByRole as Record<string, number | undefined>;
    const limits = (await c.users.rolesOf(username)).map((r) => byRole[r]).filter((ms): ms is number => ms !== undefined);
    return limits.length ? Math.min(...limits) : idleMs;
  }

  function consolePage(request: FastifyRequest, user: string, title: string, body: Html, script?: string): string {
    const { nonce, csrf } = ctx(request);
    const tr = i18n(request);
    const header = html`<form method="post" action="/console/logout">${csrfField(csrf)}<span class="meta">${user}</span> <a href="/console/sessions" id="sessions-link">${tr.t('console.sessions.link')}</a> <button type="submit" class="secondary" id="logout">${tr.t('console.signOut')}</button></form>`;
    const afterMs = resumedSessions.get(request)?.idleMs ?? idleMs;
    return page({ title, nonce, i18n: tr, body, header, script, idle: { afterMs, url: '/console/login?idle=1' } });
  }

  /** The sign-in form; after a failed try the address typed stays in its field. */
  function loginPage(request: FastifyRequest, message?: { kind: 'error' | 'info' | 'ok'; text: string }, username = ''): string {
    const { nonce, csrf } = ctx(request);
    const tr = i18n(request);
    const body = html`<h1>${tr.t('console.signIn.heading')}</h1>${message ? notice(message.kind, message.text) : ''}
<form method="post" action="/console/login" class="card" id="login-form">${csrfField(csrf)}
<label for="username">${tr.t('console.signIn.address')}</label><input type="text" id="username" name="username" value="${username}" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">${tr.t('console.signIn.password')}</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<label for="code">${tr.t('console.signIn.code')}</label><input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="text" autocapitalize="none" spellcheck="false" maxlength="32">
<button type="submit" id="login">${tr.t('console.signIn.button')}</button></form>`;
    return page({ title: tr.text('console.signIn.title'), nonce, i18n: tr, body });
  }

  /** The signed-in sender, or undefined after sending the login page's redirect. */
  async function sender(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
    const token = request.cookies[COOKIE.console];
    const resumed = await c.sessions.resume(token, 'sender');
    if (resumed.status === 'ok') {
      // The session outlives nothing of the account: a removed or disabled user is out at once.
      if (await c.users.isActive(resumed.session.subject)) {
        resumedSessions.set(request, resumed.session);
        return resumed.session.subject;
      }
      await c.sessions.end(token);
      c.logger.warn({ username: resumed.session.subject }, 'console session of a removed or disabled user ended');
    }
    reply.clearCookie(COOKIE.console, cookieOptions);
    redirect(reply, resumed.status === 'idle' ? '/console/login?idle=1' : '/console/login');
    return undefined;
  }

  app.get<{ Querystring: { idle?: string; out?: string } }>('/console/login', async (request, reply) => {
    const tr = i18n(request);
    const message = request.query.idle === '1' ? { kind: 'info' as const, text: tr.text('console.signIn.idle', { count: Math.round(idleMs / 60_000) }) }
      : request.query.out === '1' ? { kind: 'ok' as const, text: tr.text('console.signIn.out') } : undefined;
    return sendPage(reply, 200, loginPage(request, message));
  });

  app.post<{ Body: { username?: string; password?: string; code?: string } }>('/console/login', async (request, reply) => {
    requireCsrf(request);
    const ip = clientIp(request);
    const username = String(request.body?.username ?? '').trim();
    // The budgets SMTP AUTH spends too (accounts/login-budget.ts, OWASP ASVS L2 V2.2.1).
    const outcome = username === '' ? { status: 'invalid' as const } : await c.users.login(username, String(request.body?.password ?? ''), ip, { code: String(request.body?.code ?? '').slice(0, 32) || undefined });
    if (outcome.status === 'locked' || outcome.status === 'slow-down') {
      c.logger.warn({ ip, username, status: outcome.status }, 'console login refused by the login budget');
      reply.header('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
      const wait = waitText(outcome.retryAfterMs);
      const text = outcome.status === 'locked' ? i18n(request).text('console.signIn.locked', { wait }) : i18n(request).text('console.signIn.slowDown', { wait });
      return sendPage(reply, 429, loginPage(request, { kind: 'error', text }, username));
    }
    if (outcome.status === 'forbidden' && outcome.reason === 'second-factor-required') {
      // The right password of a role that must have a second factor: it may set one up, nothing else.
      await beginEnrolment(c, reply, request, 'console', username);
      return redirect(reply, '/console/second-factor');
    }
    if (outcome.status === 'second-factor' || outcome.status === 'forbidden') {
      c.logger.warn({ ip, username, status: outcome.status, reason: outcome.status === 'forbidden' ? outcome.reason : undefined }, 'console login refused');
      const tr = i18n(request);
      const text = outcome.status === 'second-factor' ? tr.text('console.signIn.codeNeeded')
        : outcome.reason === 'admin-lock' ? tr.text('console.signIn.adminLock')
        : outcome.reason === 'failure-lock' ? tr.text('console.signIn.failureLock')
        : outcome.reason === 'second-factor-required' ? tr.text('console.signIn.factorRequired')
        : tr.text('console.signIn.noRole');
      return sendPage(reply, outcome.status === 'second-factor' ? 401 : 403, loginPage(request, { kind: 'error', text }, username));
    }
    if (outcome.status !== 'ok') {
      c.logger.warn({ ip, username }, 'console login failed');
      return sendPage(reply, 401, loginPage(request, { kind: 'error', text: i18n(request).text('console.signIn.failed') }, username));
    }
    await openSession(reply, request, username);
    c.logger.info({ ip, username }, 'console login');
    return redirect(reply, '/console');
  });

  async function openSession(reply: FastifyReply, request: FastifyRequest, username: string): Promise<void> {
    await c.sessions.end(request.cookies[COOKIE.console]);
    const meta = { idleMs: await idleFor(username), ip: clientIp(request), userAgent: request.headers['user-agent'] };
    reply.setCookie(COOKIE.console, await c.sessions.create('sender', username, c.config.web.consoleSessionLifetimeMs, undefined, meta), cookieOptions);
  }

  registerEnrolment(app, c, {
    area: 'console',
    page: (request, user, title, body) => (user ? consolePage(request, user, title, body) : page({ title, nonce: ctx(request).nonce, i18n: i18n(request), body })),
    signIn: (reply, request, username) => openSession(reply, request, username),
    signedIn: async (request) => {
      const resumed = await c.sessions.resume(request.cookies[COOKIE.console], 'sender');
      return resumed.status === 'ok' && (await c.users.isActive(resumed.session.subject)) ? resumed.session.subject : undefined;
    },
  });

  app.post('/console/logout', async (request, reply) => {
    requireCsrf(request);
    await c.sessions.end(request.cookies[COOKIE.console]);
    reply.clearCookie(COOKIE.console, cookieOptions);
    return redirect(reply, '/console/login?out=1');
  });

  const helpers = { sender, consolePage, session: (request: FastifyRequest) => resumedSessions.get(request) };
  registerConsoleList(app, c, helpers);
  registerConsoleMessage(app, c, helpers);
  registerConsoleReplies(app, c, helpers);
  registerCompose(app, c, helpers);
  registerConsoleSessions(app, c, helpers);
  registerConsoleAnalyze(app, c, helpers);
}
