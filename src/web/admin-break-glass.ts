import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BREAK_GLASS_ACTOR, waitText } from '../accounts/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, notice } from './layout.ts';
import { breakGlassMail } from './notices.ts';
import { COOKIE, cookieOptions, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * Emergency access to the admin console (issue 13, accounts/break-glass.ts): the sealed
 * credential opens one short admin session under the actor `#break-glass`, once. Its use is
 * audited before the session exists, logged as a warning and mailed to every administrator.
 */

const EMERGENCY_SESSION_MS = 3_600_000;
const REASON_MAX = 500;

export interface BreakGlassPages {
  page(request: FastifyRequest, user: string | null, title: string, body: Html): string;
  idleMs: number;
}

export function registerBreakGlass(app: FastifyInstance, c: WebContext, pages: BreakGlassPages): void {
  function form(request: FastifyRequest, message?: string, reason = ''): string {
    const { csrf } = ctx(request);
    const tr = i18n(request);
    const body = html`<h1>${tr.t('admin.breakGlass.heading')}</h1>${message ? notice('error', message) : ''}<p>${tr.t('admin.breakGlass.intro')}</p>
<form method="post" action="/admin/break-glass" class="card" id="break-glass-form">${csrfField(csrf)}
<label for="credential">${tr.t('admin.breakGlass.credential')}</label><input type="password" id="credential" name="credential" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="80" required>
<label for="reason">${tr.t('admin.breakGlass.reason')}</label><textarea id="reason" name="reason" maxlength="${REASON_MAX}" required>${reason}</textarea>
<button type="submit" class="danger" id="break-glass-open">${tr.t('admin.breakGlass.button')}</button></form>`;
    return pages.page(request, null, tr.text('admin.breakGlass.title'), body);
  }

  app.get('/admin/break-glass', async (request, reply) => sendPage(reply, 200, form(request)));

  app.post<{ Body: { credential?: string; reason?: string } }>('/admin/break-glass', async (request, reply: FastifyReply) => {
    requireCsrf(request);
    const tr = i18n(request);
    const ip = clientIp(request);
    const reason = String(request.body?.reason ?? '').trim().slice(0, REASON_MAX);
    if (reason === '') return sendPage(reply, 400, form(request, tr.text('admin.breakGlass.reasonNeeded')));
    const outcome = await c.users.redeemBreakGlass(String(request.body?.credential ?? '').slice(0, 80), ip);
    if (outcome.status === 'locked' || outcome.status === 'slow-down') {
      reply.header('retry-after', String(Math.ceil(outcome.retryAfterMs / 1000)));
      return sendPage(reply, 429, form(request, tr.text('console.signIn.slowDown', { wait: waitText(outcome.retryAfterMs) }), reason));
    }
    if (outcome.status !== 'ok') {
      await c.audit.record({ actor: BREAK_GLASS_ACTOR, action: 'break-glass.refused', ip, protocol: 'admin-console', detail: {} });
      c.logger.warn({ ip }, 'emergency access refused');
      return sendPage(reply, 401, form(request, tr.text('admin.breakGlass.failed'), reason));
    }
    const at = new Date(c.clock.now());
    const userAgent = String(request.headers['user-agent'] ?? '').slice(0, 200);
    await c.audit.record({ actor: BREAK_GLASS_ACTOR, action: 'break-glass.used', ip, protocol: 'admin-console', detail: { reason, userAgent } });
    c.logger.warn({ ip }, 'EMERGENCY ACCESS: the break-glass credential opened the admin console');
    await tellAdmins(c, at, ip, reason);
    await c.sessions.end(request.cookies[COOKIE.admin]);
    reply.setCookie(COOKIE.admin, await c.sessions.create('admin', BREAK_GLASS_ACTOR, EMERGENCY_SESSION_MS, undefined, { idleMs: pages.idleMs, ip, userAgent }), cookieOptions);
    return redirect(reply, '/admin');
  });
}

/** Every admin with a mail address hears of it; one failed mail does not stop the others. */
async function tellAdmins(c: WebContext, at: Date, ip: string, reason: string): Promise<void> {
  const users = await c.users.list();
  const admins: string[] = [];
  for (const u of users) if (u.username.includes('@') && (await c.users.rolesOf(u.username)).includes('admin')) admins.push(u.username);
  if (admins.length === 0) c.logger.warn({}, 'no administrator with a mail address to tell of the emergency access');
  for (const admin of admins) {
    try {
      const mail = breakGlassMail(c.config, admin, at, ip, reason);
      await c.sendMail(mail.envelope, mail.raw);
    } catch (error) {
      c.logger.error({ err: (error as Error).message, admin }, 'emergency access notice not sent');
    }
  }
}
