import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditCsv, type AuditFilter } from '../audit/index.ts';
import { BREAK_GLASS_ACTOR, waitText, type Role } from '../accounts/index.ts';
import { registerBreakGlass } from './admin-break-glass.ts';
import { registerAdminDomains } from './admin-domains.ts';
import { registerAdminPickups } from './admin-pickups.ts';
import { registerAdminQueue } from './admin-queue.ts';
import { registerAdminRetention } from './admin-retention.ts';
import { registerAdminUsers } from './admin-users.ts';
import { beginEnrolment, registerEnrolment } from './second-factor-enrol.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatTime, notice, page, shown } from './layout.ts';
import { COOKIE, cookieOptions, ctx, HttpError, requireCsrf, sendPage } from './security.ts';

/*
 * The admin console (issue 13), for users with the `admin` role (the accounts in
 * admin-users.ts, domains, queue, the safeguards report) and the `auditor` role (the audit log
 * with filters and CSV or JSON export, and the safeguards report only). Same security as the portal (CSRF, CSP nonces, database sessions with idle log-off,
 * the login budgets and second factor of every login); its own cookie and session kind, so a
 * sender's console session never opens it.
 */

const ADMIN_SESSION_MS = 4 * 3_600_000;
const SHOWN_EVENTS = 500;

export function registerAdmin(app: FastifyInstance, c: WebContext): void {
  const idleMs = Math.min(c.config.web.idleTimeoutMs, c.config.web.idleTimeoutByRole.admin ?? Infinity);

  // What admin() found for this request: the nav shows only the pages the roles open.
  const rolesSeen = new WeakMap<FastifyRequest, string[]>();
  // The idle limit of the session the request resumed: it drives the page's own log-off timer.
  const idleSeen = new WeakMap<FastifyRequest, number>();

  /** A console user's idle limit: the shortest of their console roles' (web.idleTimeoutByRole) and the default. */
  async function idleFor(username: string): Promise<number> {
    const byRole = c.config.web.idleTimeoutByRole as Record<string, number | undefined>;
    const limits = (await c.users.rolesOf(username)).filter((r) => r === 'admin' || r === 'auditor').map((r) => byRole[r]).filter((ms): ms is number => ms !== undefined);
    return Math.min(c.config.web.idleTimeoutMs, ...limits);
  }

  function adminPage(request: FastifyRequest, user: string | null, title: string, body: Html): string {
    const { nonce, csrf } = ctx(request);
    const tr = i18n(request);
    const isAdmin = user === BREAK_GLASS_ACTOR || (rolesSeen.get(request) ?? []).includes('admin');
    const links = [
      ...(isAdmin ? [html`<a href="/admin">${tr.t('admin.nav.users')}</a>`, html`<a href="/admin/domains">${tr.t('admin.nav.domains')}</a>`, ...(c.queue ? [html`<a href="/admin/queue">${tr.t('admin.nav.queue')}</a>`] : []), html`<a href="/admin/pickups">${tr.t('admin.nav.pickups')}</a>`] : []),
      html`<a href="/admin/audit">${tr.t('admin.nav.audit')}</a>`,
      html`<a href="/admin/retention">${tr.t('admin.nav.retention')}</a>`,
      ...(c.compliance ? [html`<a href="/admin/compliance">${tr.t('admin.nav.compliance')}</a>`] : []),
    ].map((link) => html`${link} `);
    const header = user
      ? html`<form method="post" action="/admin/logout">${csrfField(csrf)}<span class="meta">${user === BREAK_GLASS_ACTOR ? tr.t('admin.breakGlass.who') : user}</span> ${links}<button type="submit" class="secondary" id="admin-logout">${tr.t('console.signOut')}</button></form>`
      : undefined;
    const warned = user === BREAK_GLASS_ACTOR ? html`${notice('error', tr.text('admin.breakGlass.banner'))}${body}` : body;
    return page({ title, nonce, i18n: tr, body: warned, header, idle: user ? { afterMs: idleSeen.get(request) ?? idleMs, url: '/admin/login?idle=1' } : undefined });
  }

  /**
   * The signed-in user holding one of `allowed`, or undefined after the redirect to the
   * sign-in page; a signed-in user without such a role gets 403.
   */
  async function admin(request: FastifyRequest, reply: FastifyReply, allowed: Role[] = ['admin']): Promise<string | undefined> {
    const token = request.cookies[COOKIE.admin];
    const resumed = await c.sessions.resume(token, 'admin');
    if (resumed.status === 'ok') {
      // The emergency session (admin-break-glass.ts) has no account behind it: its short lifetime is the limit.
      if (resumed.session.subject === BREAK_GLASS_ACTOR) return BREAK_GLASS_ACTOR;
      // The roles are read on every request: a revoked admin or auditor is out at once.
      const roles = (await c.users.isActive(resumed.session.subject)) ? await c.users.rolesOf(resumed.session.subject) : [];
      if (roles.some((r) => r === 'admin' || r === 'auditor')) {
        rolesSeen.set(request, roles);
        idleSeen.set(request, resumed.session.idleMs);
        if (roles.some((r) => (allowed as string[]).includes(r))) return resumed.session.subject;
        throw new HttpError(403, i18n(request).text('admin.signIn.notForRole'));
      }
      await c.sessions.end(token);
    }
    reply.clearCookie(COOKIE.admin, cookieOptions);
    redirect(reply, resumed.status === 'idle' ? '/admin/login?idle=1' : '/admin/login');
    return undefined;
  }

  function loginPage(request: FastifyRequest, message?: { kind: 'error' | 'info' | 'ok'; text: string }, username = ''): string {
    const { csrf } = ctx(request);
    const tr = i18n(request);
    const body = html`<h1>${tr.t('admin.signIn.heading')}</h1>${message ? notice(message.kind, message.text) : ''}
<form method="post" action="/admin/login" class="card" id="admin-login-form">${csrfField(csrf)}
<label for="username">${tr.t('console.signIn.address')}</label><input type="text" id="username" name="username" value="${username}" autocomplete="username" autocapitalize="none" spellcheck="false" required>
<label for="password">${tr.t('console.signIn.password')}</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<label for="code">${tr.t('console.signIn.code')}</label><input type="text" id="code" name="code" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="32">
<button type="submit" id="admin-login">${tr.t('console.signIn.button')}</button></form>
<p class="meta"><a href="/admin/break-glass" id="break-glass-link">${tr.t('admin.breakGlass.link')}</a></p>`;
    return adminPage(request, null, tr.text('admin.signIn.title'), body);
  }

  async function openSession(reply: FastifyReply, request: FastifyRequest, username: string): Promise<void> {
    await c.sessions.end(request.cookies[COOKIE.admin]);
    reply.setCookie(COOKIE.admin, await c.sessions.create('admin', username, ADMIN_SESSION_MS, undefined, { idleMs: await idleFor(username), ip: clientIp(request), userAgent: request.headers['user-agent'] }), cookieOptions);
  }

  registerBreakGlass(app, c, { page: adminPage, idleMs });
  registerAdminUsers(app, c, { page: adminPage, admin });
  registerEnrolment(app, c, {
    area: 'admin',
    page: adminPage,
    signIn: (reply, request, username) => openSession(reply, request, username),
    signedIn: async (request) => {
      const resumed = await c.sessions.resume(request.cookies[COOKIE.admin], 'admin');
      return resumed.status === 'ok' && resumed.session.subject !== BREAK_GLASS_ACTOR && (await c.users.isActive(resumed.session.subject)) ? resumed.session.subject : undefined;
    },
  });
  registerAdminQueue(app, c, { page: adminPage, admin });
  registerAdminDomains(app, c, { page: adminPage, admin });
  registerAdminPickups(app, c, { page: adminPage, admin });
  registerAdminRetention(app, c, { page: adminPage, admin });

  app.get<{ Querystring: { idle?: string; out?: string } }>('/admin/login', async (request, reply) => {
    const tr = i18n(request);
    const message = request.query.idle === '1' ? { kind: 'info' as const, text: tr.text('console.signIn.idle', { count: Math.round(idleMs / 60_000) }) }
      : request.query.out === '1' ? { kind: 'ok' as const, text: tr.text('console.signIn.out') } : undefined;
    return sendPage(reply, 200, loginPage(request, message));
  });

  app.post<{ Body: { username?: string; password?: string; code?: string } }>('/admin/login', async (request, reply) => {
    requireCsrf(request);
    const tr = i18n(request);
    const ip = clientIp(request);
    const username = String(request.body?.username ?? '').trim();
    const outcome = username === '' ? { status: 'invalid' as const } : await c.users.login(username, String(request.body?.password ?? ''), ip, { code: String(request.body?.code ?? '').slice(0, 32) || undefined, role: ['admin', 'auditor'], area: 'admin' });
    if (outcome.status === 'ok') {
      await openSession(reply, request, username);
      c.logger.info({ ip, username }, 'admin console login');
      return redirect(reply, (await c.users.rolesOf(username)).includes('admin') ? '/admin' : '/admin/audit');
    }
    if (outcome.status === 'forbidden' && outcome.reason === 'second-factor-required') {
      await beginEnrolment(c, reply, request, 'admin', username);
      return redirect(reply, '/admin/second-factor');
    }
    c.logger.warn({ ip, username, status: outcome.status }, 'admin console login refused');
    if (outcome.status === 'locked' || outcome.status === 'slow-down') {
      reply.header('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
      const wait = waitText(outcome.retryAfterMs);
      return sendPage(reply, 429, loginPage(request, { kind: 'error', text: outcome.status === 'locked' ? tr.text('console.signIn.locked', { wait }) : tr.text('console.signIn.slowDown', { wait }) }, username));
    }
    const text = outcome.status === 'second-factor' ? tr.text('console.signIn.codeNeeded')
      : outcome.status === 'forbidden' && outcome.reason === 'admin-lock' ? tr.text('console.signIn.adminLock')
      : outcome.status === 'forbidden' && outcome.reason === 'failure-lock' ? tr.text('console.signIn.failureLock')
      : outcome.status === 'forbidden' && outcome.reason === 'second-factor-required' ? tr.text('console.signIn.factorRequired')
      : outcome.status === 'forbidden' ? tr.text('admin.signIn.noRole')
      : tr.text('console.signIn.failed');
    return sendPage(reply, outcome.status === 'forbidden' ? 403 : 401, loginPage(request, { kind: 'error', text }, username));
  });

  app.post('/admin/logout', async (request, reply) => {
    requireCsrf(request);
    await c.sessions.end(request.cookies[COOKIE.admin]);
    reply.clearCookie(COOKIE.admin, cookieOptions);
    return redirect(reply, '/admin/login?out=1');
  });

  /** The filter a query string asks for: action prefix, actor, target, a day range. */
  function filterOf(query: Record<string, string | undefined>): AuditFilter {
    const day = (value: string | undefined, end: boolean) => {
      if (!value || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
      const start = Date.parse(`${value}T00:00:00Z`);
      return Number.isNaN(start) ? undefined : start + (end ? 86_400_000 : 0);
    };
    const text = (value: string | undefined) => (value && value.length <= 200 ? value : undefined);
    return { action: text(query.action), actor: text(query.actor), target: text(query.target), since: day(query.since, false), until: day(query.until, true) };
  }

  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/audit', async (request, reply) => {
    const user = await admin(request, reply, ['admin', 'auditor']);
    if (!user) return reply;
    const tr = i18n(request);
    const q = request.query;
    const filter = filterOf(q);
    const events = (await c.audit.list({ ...filter, limit: 100_000 })).slice(-SHOWN_EVENTS).reverse();
    const query = new URLSearchParams(Object.entries({ action: filter.action, actor: filter.actor, target: filter.target, since: q.since, until: q.until }).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')).toString();
    const field = (name: string, label: Html, type = 'text') => html`<label for="f-${name}">${label}</label><input type="${type}" id="f-${name}" name="${name}" value="${q[name] ?? ''}" maxlength="200" autocapitalize="none" spellcheck="false">`;
    const list = events.map((e) => html`<li class="card event"><p><strong>${shown(e.action)}</strong> · ${formatTime(e.at, tr)} · #${e.seq}</p>
<p class="meta">${tr.t('admin.audit.facts', { actor: shown(e.actor), target: shown(e.target ?? '—'), ip: e.ip ?? '—', protocol: e.protocol ?? '—' })}</p>
<p class="meta detail">${shown(JSON.stringify(e.detail))}</p></li>`);
    const body = html`<h1>${tr.t('admin.audit.heading')}</h1>
<form method="get" action="/admin/audit" class="card" id="audit-filter">${field('action', tr.t('admin.audit.action'))}${field('actor', tr.t('admin.audit.actor'))}${field('target', tr.t('admin.audit.target'))}${field('since', tr.t('admin.audit.since'), 'date')}${field('until', tr.t('admin.audit.until'), 'date')}
<button type="submit" id="audit-apply">${tr.t('admin.audit.apply')}</button></form>
<p><a href="/admin/audit.csv?${query}" id="audit-csv">${tr.t('admin.audit.csv')}</a> · <a href="/admin/audit.json?${query}" id="audit-json">${tr.t('admin.audit.json')}</a></p>
<p>${tr.t('admin.audit.shown', { count: events.length })}</p>
<ul class="files events">${list}</ul>`;
    return sendPage(reply, 200, adminPage(request, user, tr.text('admin.audit.title'), body));
  });

  app.get('/admin/compliance', async (request, reply) => {
    const user = await admin(request, reply, ['admin', 'auditor']);
    if (!user) return reply;
    if (!c.compliance) throw new HttpError(404, i18n(request).text('admin.compliance.none'));
    const tr = i18n(request);
    const report = await c.compliance();
    // The findings are the report's own sentences (English, as `sealgate compliance` prints them).
    const items = report.safeguards.map((s) => html`<li class="card safeguard ${s.status}"><h2 class="subject">${s.title} <span class="meta">${s.citation}</span></h2>
<p><strong>${s.status === 'met' ? tr.t('admin.compliance.met') : tr.t('admin.compliance.warning')}</strong></p>
<ul>${s.findings.map((f) => html`<li>${f}</li>`)}</ul>${s.warnings.length ? html`<ul class="warnings">${s.warnings.map((w) => html`<li>${notice('error', w)}</li>`)}</ul>` : ''}</li>`);
    const body = html`<h1>${tr.t('admin.compliance.heading')}</h1><p>${tr.t('admin.compliance.intro', { count: report.warnings })}</p><ul class="files safeguards">${items}</ul>`;
    return sendPage(reply, 200, adminPage(request, user, tr.text('admin.compliance.title'), body));
  });

  for (const format of ['csv', 'json'] as const) {
    app.get<{ Querystring: Record<string, string | undefined> }>(`/admin/audit.${format}`, async (request, reply) => {
      const user = await admin(request, reply, ['admin', 'auditor']);
      if (!user) return reply;
      const events = await c.audit.list({ ...filterOf(request.query), limit: 100_000 });
      await c.audit.record({ actor: user, action: 'audit.export', ip: clientIp(request), protocol: 'admin-console', detail: { format, events: events.length } });
      reply.header('content-disposition', `attachment; filename="sealgate-audit.${format}"`).header('cache-control', 'no-store');
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(auditCsv(events));
      return reply.type('application/json; charset=utf-8').send(`${JSON.stringify(events, null, 2)}\n`);
    });
  }
}
