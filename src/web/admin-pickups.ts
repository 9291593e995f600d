import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HELD_STATES, type HeldFilter, type HeldPickup, type HeldState } from '../pickup/index.ts';
import type { AdminPages } from './admin-queue.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n, type Translator } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import { HttpError, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * The pickups in the admin console (issue 13): every held message with sender, recipient,
 * times, state and opens, filtered and paged; retract (the sender's retraction: the server
 * share is destroyed) and unlock, each an audit event naming the admin. No subject, no file
 * name, no content: the admin cannot read a pickup, by design (server share + recipient secret).
 */

const PAGE_SIZE = 50;
const ID = /^[A-Za-z0-9_-]{22}$/;
const LIVE = new Set<HeldState>(['waiting', 'opened', 'locked']);

type Query = { sender?: string; recipient?: string; state?: string; page?: string; done?: string };

const STATE_KEYS = {
  waiting: 'admin.pickups.state.waiting', opened: 'admin.pickups.state.opened', locked: 'admin.pickups.state.locked',
  retracted: 'admin.pickups.state.retracted', expired: 'admin.pickups.state.expired', deleted: 'admin.pickups.state.deleted',
} as const satisfies Record<HeldState, string>;

function filterOf(query: Query): HeldFilter & { page: number } {
  const text = (value: string | undefined) => (value && value.trim() && value.length <= 200 ? value.trim() : undefined);
  const page = Math.min(10_000, Math.max(1, Number.parseInt(query.page ?? '1', 10) || 1));
  return { sender: text(query.sender), recipient: text(query.recipient), state: HELD_STATES.find((s) => s === query.state), page, offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE };
}

/** The list's address with the same filter on another page. */
function listUrl(filter: HeldFilter, page: number): string {
  const entries = Object.entries({ sender: filter.sender, recipient: filter.recipient, state: filter.state, page: page > 1 ? String(page) : undefined });
  const query = new URLSearchParams(entries.filter((e): e is [string, string] => typeof e[1] === 'string')).toString();
  return query ? `/admin/pickups?${query}` : '/admin/pickups';
}

export function registerAdminPickups(app: FastifyInstance, c: WebContext, pages: AdminPages): void {
  const stateText = (tr: Translator, state: HeldState) => tr.t(STATE_KEYS[state]);

  function row(tr: Translator, csrf: string, p: HeldPickup): Html {
    const actions = [
      ...(LIVE.has(p.state) ? [html`<a class="button danger" href="/admin/pickups/${p.id}/retract" id="retract-${p.id}">${tr.t('admin.pickups.retract')}</a>`] : []),
      ...(p.state === 'locked' ? [html`<form method="post" action="/admin/pickups/${p.id}/unlock" class="inline">${csrfField(csrf)}<button type="submit" class="secondary" id="unlock-${p.id}">${tr.t('admin.pickups.unlock')}</button></form>`] : []),
    ];
    return html`<li class="card pickup" id="pickup-${p.id}"><h2 class="subject">${tr.t('admin.pickups.parties', { sender: shown(p.sender), recipient: shown(p.recipient) })}</h2>
<p><span class="state ${p.state}">${stateText(tr, p.state)}</span>${p.isReply ? html` · ${tr.t('admin.pickups.reply')}` : ''}</p>
<p class="meta">${tr.t('admin.pickups.facts', { created: formatTime(p.createdAt, tr), expires: formatTime(p.expiresAt, tr), opens: tr.t('admin.pickups.opens', { count: p.opens }) })}</p>
<p class="meta">${tr.t('admin.pickups.id', { id: p.id })}</p>${actions.length ? html`<p>${actions.map((a) => html`${a} `)}</p>` : ''}</li>`;
  }

  app.get<{ Querystring: Query }>('/admin/pickups', async (request, reply) => {
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const { csrf } = ctx(request);
    const filter = filterOf(request.query);
    const { pickups, more } = await c.pickup.held.list(filter);
    const done = request.query.done === 'retracted' ? notice('ok', tr.text('admin.pickups.retractedNow'))
      : request.query.done === 'unlocked' ? notice('ok', tr.text('admin.pickups.unlockedNow', { count: c.pickup.gate.maxFailures })) : '';
    const field = (name: 'sender' | 'recipient', label: Html) => html`<label for="f-${name}">${label}</label><input type="search" id="f-${name}" name="${name}" value="${filter[name] ?? ''}" maxlength="200" autocapitalize="none" spellcheck="false">`;
    const options = [html`<option value="">${tr.t('admin.pickups.anyState')}</option>`, ...HELD_STATES.map((s) => html`<option value="${s}"${filter.state === s ? html` selected` : ''}>${stateText(tr, s)}</option>`)];
    const pager = [
      ...(filter.page > 1 ? [html`<a href="${listUrl(filter, filter.page - 1)}" rel="prev" id="page-prev">${tr.t('admin.pickups.newer')}</a>`] : []),
      ...(more ? [html`<a href="${listUrl(filter, filter.page + 1)}" rel="next" id="page-next">${tr.t('admin.pickups.older')}</a>`] : []),
    ];
    const body = html`<h1>${tr.t('admin.pickups.heading')}</h1>${done}<p>${tr.t('admin.pickups.intro')}</p>
<form method="get" action="/admin/pickups" class="card" id="pickup-filter"><div class="row"><div>${field('sender', tr.t('admin.pickups.sender'))}</div><div>${field('recipient', tr.t('admin.pickups.recipient'))}</div>
<div><label for="f-state">${tr.t('admin.pickups.stateLabel')}</label><select id="f-state" name="state">${options}</select></div></div>
<button type="submit" id="pickup-apply">${tr.t('admin.pickups.apply')}</button></form>
<p>${tr.t('admin.pickups.shown', { count: pickups.length, page: filter.page })}</p>
${pickups.length ? html`<ul class="files pickups">${pickups.map((p) => row(tr, csrf, p))}</ul>` : html`<p>${tr.t('admin.pickups.none')}</p>`}
${pager.length ? html`<nav class="pager" aria-label="${tr.text('admin.pickups.pages')}"><p>${pager.map((a) => html`${a} `)}</p></nav>` : ''}`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.pickups.title'), body));
  });

  /** The message's clear facts (describe brings its state up to date), or 404. */
  async function factsOf(request: FastifyRequest<{ Params: { id: string } }>) {
    const id = request.params.id;
    const facts = ID.test(id) ? await c.pickup.describe(id) : undefined;
    if (!facts) throw new HttpError(404, i18n(request).text('admin.pickups.unknown'));
    return facts;
  }

  app.get<{ Params: { id: string } }>('/admin/pickups/:id/retract', async (request, reply) => {
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const facts = await factsOf(request);
    if (facts.state !== 'active' && facts.state !== 'locked') throw new HttpError(409, tr.text('admin.pickups.nothingToRetract'));
    const { csrf } = ctx(request);
    const body = html`<h1>${tr.t('admin.pickups.confirmHeading')}</h1>
<form method="post" action="/admin/pickups/${facts.id}/retract" class="card" id="retract-form">${csrfField(csrf)}<input type="hidden" name="confirm" value="yes">
<p id="confirm-text">${tr.t('admin.pickups.confirmText', { sender: shown(facts.sender), recipient: shown(facts.recipient) })}</p>
<button type="submit" class="danger" id="confirm-retract">${tr.t('admin.pickups.confirmButton')}</button>
<a href="/admin/pickups" id="cancel">${tr.t('admin.pickups.cancel')}</a></form>`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.pickups.confirmTitle'), body));
  });

  app.post<{ Params: { id: string }; Body: { confirm?: string } }>('/admin/pickups/:id/retract', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const facts = await factsOf(request);
    if (request.body?.confirm !== 'yes') return redirect(reply, `/admin/pickups/${facts.id}/retract`);
    // The sender's retraction (console-message.ts): the share goes, so does every reading session.
    if (!(await c.pickup.retract(facts.id, clientIp(request)))) throw new HttpError(409, i18n(request).text('admin.pickups.nothingToRetract'));
    await c.sessions.endAllOf('recipient', facts.id);
    c.logger.info({ audit: true, action: 'pickup.retract', messageId: facts.id, user, ip: clientIp(request) }, 'pickup message retracted by an admin');
    await c.audit.record({ actor: user, action: 'pickup.retract', target: facts.id, ip: clientIp(request), protocol: 'admin-console', detail: { sender: facts.sender, recipient: facts.recipient } });
    return redirect(reply, '/admin/pickups?done=retracted');
  });

  app.post<{ Params: { id: string } }>('/admin/pickups/:id/unlock', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const facts = await factsOf(request);
    // Only a lock is lifted here (the gate's unlock would also clear a live message's failed attempts).
    if (facts.state !== 'locked' || !(await c.pickup.gate.unlock(facts.id, user, clientIp(request)))) throw new HttpError(409, i18n(request).text('admin.pickups.nothingToUnlock'));
    c.logger.info({ audit: true, action: 'pickup.unlock', messageId: facts.id, user, ip: clientIp(request) }, 'pickup message unlocked by an admin');
    await c.audit.record({ actor: user, action: 'pickup.unlock', target: facts.id, ip: clientIp(request), protocol: 'admin-console', detail: { sender: facts.sender, recipient: facts.recipient } });
    return redirect(reply, '/admin/pickups?done=unlocked');
  });
}
