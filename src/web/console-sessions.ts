import type { FastifyInstance } from 'fastify';
import { redirect, type WebContext } from './context.ts';
import { html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import type { ConsoleHelpers } from './console-shared.ts';
import { COOKIE, cookieOptions, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * The sender's sessions (issue 13 "Sessions"): where and with what each signed in, when it was
 * last used, and "sign out everywhere else" / "everywhere" — what a person does after losing a
 * laptop or signing in at a shared computer.
 */
export function registerConsoleSessions(app: FastifyInstance, c: WebContext, helpers: ConsoleHelpers): void {
  app.get<{ Querystring: { ended?: string } }>('/console/sessions', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const current = helpers.session(request)?.handle;
    const sessions = await c.sessions.list('sender', user);
    const { csrf } = ctx(request);
    const ended = Number(request.query.ended);
    const rows = sessions.map((s) => html`<li class="card session${s.handle === current ? ' current' : ''}">
<p><strong>${s.handle === current ? tr.t('console.sessions.this') : tr.t('console.sessions.other')}</strong></p>
<p class="meta">${tr.t('console.sessions.facts', { ip: s.ip ?? '?', agent: shown(s.userAgent ?? '?') })}</p>
<p class="meta">${tr.t('console.sessions.times', { created: formatTime(s.createdAt, tr), seen: formatTime(s.lastSeenAt, tr) })}</p>
</li>`);
    const body = html`<h1>${tr.t('console.sessions.heading')}</h1>${Number.isInteger(ended) && ended >= 0 && request.query.ended !== undefined ? notice('ok', tr.text('console.sessions.ended', { count: ended })) : ''}
<p>${tr.t('console.sessions.intro')}</p>
<ul class="files sessions">${rows}</ul>
<form method="post" action="/console/sessions/end-others" class="inline">${csrfField(csrf)}<button type="submit" id="end-others" class="secondary">${tr.t('console.sessions.endOthers')}</button></form>
<form method="post" action="/console/sessions/end-all" class="inline">${csrfField(csrf)}<button type="submit" id="end-all" class="danger">${tr.t('console.sessions.endAll')}</button></form>
<p><a href="/console">${tr.t('console.sessions.back')}</a></p>`;
    return sendPage(reply, 200, helpers.consolePage(request, user, tr.text('console.sessions.title'), body));
  });

  app.post('/console/sessions/end-others', async (request, reply) => {
    requireCsrf(request);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const ended = await c.sessions.endOthers('sender', user, helpers.session(request)!.handle);
    c.logger.info({ username: user, ended }, 'console: other sessions ended');
    await c.audit.record({ actor: user, action: 'session.end-others', target: user, protocol: 'console', detail: { ended } });
    return redirect(reply, `/console/sessions?ended=${ended}`);
  });

  app.post('/console/sessions/end-all', async (request, reply) => {
    requireCsrf(request);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    // Everywhere: the same person's admin-console sessions too (a lost laptop holds both).
    await c.sessions.endAllOf('sender', user);
    await c.sessions.endAllOf('admin', user);
    c.logger.info({ username: user }, 'console: every session ended');
    await c.audit.record({ actor: user, action: 'session.end-all', target: user, protocol: 'console', detail: {} });
    reply.clearCookie(COOKIE.console, cookieOptions);
    return redirect(reply, '/console/login?out=1');
  });
}
