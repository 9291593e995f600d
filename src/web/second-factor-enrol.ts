import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, notice } from './layout.ts';
import { COOKIE, cookieOptions, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * Setting up the TOTP second factor in a browser (issue 13): when a role requires one and the
 * user has none, the right password opens only this page (an `enrol` session, ten minutes):
 * the key and its otpauth:// URI, a code from the app to confirm, then the recovery codes once,
 * and only then the real session. A signed-in user without a factor can set one up here too.
 */

const ENROL_SESSION_MS = 10 * 60_000;

export interface EnrolArea {
  /** `console` or `admin`: the URL prefix and which real session follows. */
  area: 'console' | 'admin';
  page(request: FastifyRequest, user: string | null, title: string, body: Html): string;
  /** Opens the real session once the factor is on. */
  signIn(reply: FastifyReply, request: FastifyRequest, username: string): Promise<void>;
  /** The user of a real session already open, if any (voluntary set-up). */
  signedIn(request: FastifyRequest): Promise<string | undefined>;
}

/** Starts the forced set-up after a right password: the caller redirects to the page. */
export async function beginEnrolment(c: WebContext, reply: FastifyReply, request: FastifyRequest, area: EnrolArea['area'], username: string): Promise<void> {
  await c.sessions.end(request.cookies[COOKIE.enrol]);
  reply.setCookie(COOKIE.enrol, await c.sessions.create('enrol', `${area}:${username}`, ENROL_SESSION_MS, undefined, { ip: clientIp(request), userAgent: request.headers['user-agent'] }), cookieOptions);
}

export function registerEnrolment(app: FastifyInstance, c: WebContext, area: EnrolArea): void {
  const path = `/${area.area}/second-factor`;

  /** Who is setting up: the enrol session of this area, else a real session; and whether it is forced. */
  async function who(request: FastifyRequest): Promise<{ username: string; forced: boolean } | undefined> {
    const resumed = await c.sessions.resume(request.cookies[COOKIE.enrol], 'enrol');
    if (resumed.status === 'ok' && resumed.session.subject.startsWith(`${area.area}:`)) {
      // A lock or removal since the password was checked ends the set-up too.
      const username = resumed.session.subject.slice(area.area.length + 1);
      return (await c.users.isActive(username)) ? { username, forced: true } : undefined;
    }
    const username = await area.signedIn(request);
    return username && !(await c.users.hasSecondFactor(username)) ? { username, forced: false } : undefined;
  }

  async function setupPage(request: FastifyRequest, reply: FastifyReply, username: string, forced: boolean, message?: string, status = 200) {
    const tr = i18n(request);
    const { csrf } = ctx(request);
    const enrolment = await c.users.enrolSecondFactor(username);
    const body = html`<h1>${tr.t('console.enrol.heading')}</h1>${forced ? notice('info', tr.text('console.enrol.required')) : ''}${message ? notice('error', message) : ''}
<ol class="card"><li>${tr.t('console.enrol.step1')}</li>
<li>${tr.t('console.enrol.step2')}<br><code id="totp-secret">${enrolment.secret}</code><br><a href="${enrolment.uri}" id="totp-uri">${tr.t('console.enrol.uri')}</a></li>
<li>${tr.t('console.enrol.step3')}</li></ol>
<form method="post" action="${path}" class="card" id="enrol-form">${csrfField(csrf)}
<label for="code">${tr.t('console.enrol.code')}</label><input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10" required>
<button type="submit" id="enrol-confirm">${tr.t('console.enrol.confirm')}</button></form>`;
    return sendPage(reply, status, area.page(request, forced ? null : username, tr.text('console.enrol.title'), body));
  }

  app.get(path, async (request, reply) => {
    const user = await who(request);
    if (!user) return redirect(reply, `/${area.area}/login`);
    return setupPage(request, reply, user.username, user.forced);
  });

  app.post<{ Body: { code?: string } }>(path, async (request, reply) => {
    requireCsrf(request);
    const user = await who(request);
    if (!user) return redirect(reply, `/${area.area}/login`);
    const tr = i18n(request);
    let codes: string[];
    try {
      codes = await c.users.confirmSecondFactor(user.username, String(request.body?.code ?? '').replace(/\s/g, '').slice(0, 10));
    } catch {
      // The same pending key again: the app already holds it.
      return setupPage(request, reply, user.username, user.forced, tr.text('console.enrol.wrongCode'), 400);
    }
    await c.audit.record({ actor: user.username, action: 'user.totp.enable', target: user.username, ip: clientIp(request), protocol: `${area.area}-console`, detail: { forced: user.forced } });
    if (user.forced) {
      await c.sessions.end(request.cookies[COOKIE.enrol]);
      reply.clearCookie(COOKIE.enrol, cookieOptions);
      await area.signIn(reply, request, user.username);
    }
    const body = html`<h1>${tr.t('console.enrol.doneHeading')}</h1>${notice('ok', tr.text('console.enrol.done'))}<p>${tr.t('console.enrol.recovery')}</p>
<ul class="card recovery-codes" id="recovery-codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<p><a href="/${area.area}" id="enrol-continue">${tr.t('console.enrol.continue')}</a></p>`;
    return sendPage(reply, 200, area.page(request, user.username, tr.text('console.enrol.title'), body));
  });
}
