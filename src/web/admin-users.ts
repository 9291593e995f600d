import type { FastifyInstance } from 'fastify';
import { AccountError, BREAK_GLASS_ACTOR, ROLES, isRole, type Role } from '../accounts/index.ts';
import type { AdminPages } from './admin-queue.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import { HttpError, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * The accounts in the admin console (issue 13): every user with roles, second factor and
 * lock; a new account with its roles (the password rules of `user add`); lock and unlock; and
 * which roles must have a second factor (on top of `login.totpRequiredFor`). Each change is an
 * audit event naming the admin, with before and after.
 */

const USER = /^[A-Za-z0-9._@+-]{1,128}$/;

type Done = 'locked' | 'unlocked' | 'created' | 'factors';

export function registerAdminUsers(app: FastifyInstance, c: WebContext, pages: AdminPages): void {
  app.get<{ Querystring: { done?: string } }>('/admin', async (request, reply) => {
    const user = await pages.admin(request, reply, ['admin', 'auditor']);
    if (!user) return reply;
    // An auditor's console is the audit log.
    if (user !== BREAK_GLASS_ACTOR && !(await c.users.rolesOf(user)).includes('admin')) return redirect(reply, '/admin/audit');
    const tr = i18n(request);
    const { csrf } = ctx(request);
    const users = await c.users.list();
    const rows = await Promise.all(users.map(async (u) => {
      const [roles, lock, factor] = await Promise.all([c.users.rolesOf(u.username), c.users.lockState(u.username), c.users.hasSecondFactor(u.username)]);
      const state = lock.adminLock ? tr.t('admin.users.adminLocked') : lock.budgetLockedUntil ? tr.t('admin.users.budgetLocked', { until: formatTime(lock.budgetLockedUntil, tr) }) : tr.t('admin.users.open');
      const locked = lock.adminLock || lock.budgetLockedUntil !== null;
      return html`<li class="card user"><h2 class="subject">${shown(u.username)}</h2>
<p class="meta">${tr.t('admin.users.facts', { roles: roles.length ? roles.join(', ') : tr.text('admin.users.noRoles'), created: formatTime(u.createdAt, tr) })} · ${factor ? tr.t('admin.users.factorOn') : tr.t('admin.users.factorOff')}</p>
<p>${state}</p>
${u.username === user ? '' : html`<form method="post" action="/admin/users/lock" class="inline">${csrfField(csrf)}<input type="hidden" name="username" value="${u.username}"><input type="hidden" name="lock" value="${locked ? '0' : '1'}">
<button type="submit" class="${locked ? 'secondary' : 'danger'}">${locked ? tr.t('admin.users.unlock') : tr.t('admin.users.lock')}</button></form>`}</li>`;
    }));
    const messages: Record<Done, string> = { locked: tr.text('admin.users.lockedNow'), unlocked: tr.text('admin.users.unlockedNow'), created: tr.text('admin.users.createdNow'), factors: tr.text('admin.users.factorsNow') };
    const done = request.query.done && request.query.done in messages ? notice('ok', messages[request.query.done as Done]) : '';
    const required = await c.users.requiredSecondFactorRoles();
    const fixed = c.users.configuredSecondFactorRoles;
    const roleBoxes = (name: string, checked: (r: Role) => boolean, disabled: (r: Role) => boolean = () => false) =>
      ROLES.map((r) => html`<label class="check"><input type="checkbox" name="${name}" value="${r}" id="${name}-${r}"${checked(r) ? html` checked` : ''}${disabled(r) ? html` disabled` : ''}> ${r}</label>`);
    const body = html`<h1>${tr.t('admin.users.heading')}</h1>${done}<p>${tr.t('admin.users.intro')}</p><ul class="files users">${rows}</ul>
<h2>${tr.t('admin.users.createHeading')}</h2>
<form method="post" action="/admin/users" class="card" id="user-create-form">${csrfField(csrf)}
<label for="new-username">${tr.t('console.signIn.address')}</label><input type="text" id="new-username" name="username" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="128" required>
<label for="new-password">${tr.t('admin.users.initialPassword')}</label><input type="password" id="new-password" name="password" autocomplete="new-password" required>
<fieldset><legend>${tr.t('admin.users.roles')}</legend>${roleBoxes('role', (r) => r === 'sender')}</fieldset>
<button type="submit" id="user-create">${tr.t('admin.users.create')}</button></form>
<h2>${tr.t('admin.users.factorsHeading')}</h2>
<form method="post" action="/admin/users/second-factor" class="card" id="factor-form">${csrfField(csrf)}
<fieldset><legend>${tr.t('admin.users.factorsLegend')}</legend>${roleBoxes('required', (r) => required.includes(r), (r) => fixed.includes(r))}</fieldset>
${fixed.length ? html`<p class="meta">${tr.t('admin.users.factorsFixed', { roles: fixed.join(', ') })}</p>` : ''}
<button type="submit" id="factor-save">${tr.t('admin.users.factorsSave')}</button></form>`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.users.title'), body));
  });

  app.post<{ Body: { username?: string; password?: string; role?: string | string[] } }>('/admin/users', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const username = String(request.body?.username ?? '').trim();
    const roles = [request.body?.role ?? []].flat().filter(isRole);
    try {
      await c.users.add(username, String(request.body?.password ?? ''));
    } catch (error) {
      // The account rules' own sentence (taken, short, breached): nothing was created.
      if (error instanceof AccountError) throw new HttpError(400, error.message);
      throw error;
    }
    // `user add` makes a sender; the form's choice replaces that.
    for (const role of ROLES) if (roles.includes(role)) await c.users.grantRole(username, role);
    if (!roles.includes('sender')) await c.users.revokeRole(username, 'sender');
    await c.audit.record({ actor: user, action: 'user.add', target: username, ip: clientIp(request), protocol: 'admin-console', detail: { roles: await c.users.rolesOf(username) } });
    return redirect(reply, '/admin?done=created');
  });

  app.post<{ Body: { required?: string | string[] } }>('/admin/users/second-factor', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const before = await c.users.requiredSecondFactorRoles();
    await c.users.setRequiredSecondFactorRoles([request.body?.required ?? []].flat().filter(isRole));
    const after = await c.users.requiredSecondFactorRoles();
    await c.audit.record({ actor: user, action: 'login.second-factor-required', ip: clientIp(request), protocol: 'admin-console', detail: { before, after } });
    return redirect(reply, '/admin?done=factors');
  });

  app.post<{ Body: { username?: string; lock?: string } }>('/admin/users/lock', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const target = String(request.body?.username ?? '');
    if (!USER.test(target)) throw new HttpError(400, i18n(request).text('admin.users.unknown'));
    const lock = request.body?.lock === '1';
    const before = await c.users.lockState(target).catch(() => null);
    if (!before) throw new HttpError(404, i18n(request).text('admin.users.unknown'));
    // An admin cannot lock themselves out of the console by a slip.
    if (lock && target === user) throw new HttpError(409, i18n(request).text('admin.users.notYourself'));
    await c.users.setLocked(target, lock);
    await c.audit.record({ actor: user, action: lock ? 'user.lock' : 'user.unlock', target, ip: clientIp(request), protocol: 'admin-console', detail: { before, after: await c.users.lockState(target) } });
    return redirect(reply, `/admin?done=${lock ? 'locked' : 'unlocked'}`);
  });
}
