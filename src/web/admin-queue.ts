import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../accounts/index.ts';
import { QUEUE_ID_PATTERN } from '../queue/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import { HttpError, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * The queue in the admin console (issue 13): the messages with their recipients' states,
 * one message's envelope, recipients and delivery receipts, and retry or delete, each an audit
 * event. Never a body, a subject or the sender's pickup secret: only what `queue show` prints.
 */

const SHOWN_MESSAGES = 200;
/** `active`: messages not finished yet (queue.list's one filter). */
const STATES = ['active'] as const;

export interface AdminPages {
  page(request: FastifyRequest, user: string | null, title: string, body: Html): string;
  /** The signed-in user holding one of `allowed` (default: admin), or undefined after the redirect to the sign-in page. */
  admin(request: FastifyRequest, reply: FastifyReply, allowed?: Role[]): Promise<string | undefined>;
}

export function registerAdminQueue(app: FastifyInstance, c: WebContext, pages: AdminPages): void {
  const queue = c.queue;
  if (!queue) return;

  function idOf(request: FastifyRequest<{ Params: { id: string } }>): string {
    const id = request.params.id;
    if (!QUEUE_ID_PATTERN.test(id)) throw new HttpError(404, i18n(request).text('admin.queue.unknown'));
    return id;
  }

  app.get<{ Querystring: { state?: string; done?: string } }>('/admin/queue', async (request, reply) => {
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const state = STATES.find((s) => s === request.query.state);
    const messages = await queue.list({ state, limit: SHOWN_MESSAGES });
    const filter = html`<p class="meta"><a href="/admin/queue">${tr.t('admin.queue.all')}</a> · <a href="/admin/queue?state=active">${tr.t('admin.queue.active')}</a></p>`;
    const rows = messages.map((m) => html`<li class="card message"><h2 class="subject"><a href="/admin/queue/${m.id}">${m.id}</a></h2>
<p class="meta">${tr.t('admin.queue.facts', { from: shown(m.mailFrom || '<>'), size: String(m.size), created: formatTime(m.createdAt, tr) })}</p>
<ul>${m.recipients.map((r) => html`<li>${shown(r.address)}: ${r.held ? tr.t('admin.queue.held') : r.state}${r.attempts ? html` · ${tr.t('admin.queue.attempts', { count: r.attempts })}` : ''}</li>`)}</ul></li>`);
    const done = request.query.done === 'deleted' ? notice('ok', tr.text('admin.queue.deletedNow')) : '';
    const body = html`<h1>${tr.t('admin.queue.heading')}</h1>${done}<p>${tr.t('admin.queue.intro')}</p>${filter}
<p>${tr.t('admin.queue.shown', { count: messages.length })}</p><ul class="files messages">${rows}</ul>`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.queue.title'), body));
  });

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/admin/queue/:id', async (request, reply) => {
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const detail = await queue.show(idOf(request));
    if (!detail) throw new HttpError(404, tr.text('admin.queue.unknown'));
    const { csrf } = ctx(request);
    const e = detail.envelope;
    const facts = [
      tr.t('admin.queue.from', { from: shown(detail.mailFrom || '<>') }),
      tr.t('admin.queue.origin', { origin: e.origin ?? '—', user: shown(e.authUser ?? '—') }),
      tr.t('admin.queue.link', { level: e.requiredLevel ?? 'none', requireTls: e.requireTls ? 'REQUIRETLS' : '—', pickup: e.pickup ? tr.text('admin.queue.pickupAsked') : '—' }),
    ];
    const recipients = detail.recipients.map((r) => html`<li>${shown(r.address)}: ${r.held ? tr.t('admin.queue.held') : r.state} · ${tr.t('admin.queue.attempts', { count: r.attempts })}${r.lastReply ? html`<br><span class="meta detail">${shown(r.lastReply)}</span>` : ''}</li>`);
    const receipts = detail.receipts.map((r) => html`<li class="card receipt"><p><strong>${r.outcome}</strong> · ${shown(r.recipient)} · ${formatTime(r.at, tr)}</p>
<p class="meta">${tr.t('admin.queue.receipt', { mx: shown(r.mxHost ?? '—'), ip: r.ip ?? '—', tls: r.tlsVersion ? `${r.tlsVersion} ${r.cipher ?? ''}` : tr.text('admin.queue.noTls'), verified: r.certVerified ? tr.text('admin.queue.certVerified') : tr.text('admin.queue.certNotVerified') })}</p>
<p class="meta detail">${shown(r.reply)}</p></li>`);
    const done = request.query.done === 'retried' ? notice('ok', tr.text('admin.queue.retriedNow')) : request.query.done === 'nothing' ? notice('info', tr.text('admin.queue.nothingToRetry')) : '';
    const body = html`<h1>${tr.t('admin.queue.message', { id: detail.id })}</h1>${done}
<ul class="card">${facts.map((f) => html`<li>${f}</li>`)}</ul>
<h2>${tr.t('admin.queue.recipients')}</h2><ul class="card">${recipients}</ul>
<form method="post" action="/admin/queue/${detail.id}/retry" class="inline">${csrfField(csrf)}<button type="submit" id="queue-retry">${tr.t('admin.queue.retry')}</button></form>
<form method="post" action="/admin/queue/${detail.id}/delete" class="inline">${csrfField(csrf)}<button type="submit" class="danger" id="queue-delete">${tr.t('admin.queue.delete')}</button></form>
<h2>${tr.t('admin.queue.receipts')}</h2>${receipts.length ? html`<ul class="files receipts">${receipts}</ul>` : html`<p>${tr.t('admin.queue.noReceipts')}</p>`}`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.queue.title'), body));
  });

  app.post<{ Params: { id: string } }>('/admin/queue/:id/retry', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const id = idOf(request);
    if (!(await queue.show(id))) throw new HttpError(404, i18n(request).text('admin.queue.unknown'));
    const due = await queue.retryNow(id);
    await c.audit.record({ actor: user, action: 'queue.retry', target: id, ip: clientIp(request), protocol: 'admin-console', detail: { recipients: due } });
    return redirect(reply, `/admin/queue/${id}?done=${due ? 'retried' : 'nothing'}`);
  });

  app.post<{ Params: { id: string } }>('/admin/queue/:id/delete', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const id = idOf(request);
    const before = await queue.show(id);
    if (!before) throw new HttpError(404, i18n(request).text('admin.queue.unknown'));
    const removed = await queue.remove(id);
    await c.audit.record({ actor: user, action: 'queue.delete', target: id, ip: clientIp(request), protocol: 'admin-console', detail: { removed, mailFrom: before.mailFrom, recipients: before.recipients.map((r) => ({ address: r.address, state: r.state })) } });
    return redirect(reply, '/admin/queue?done=deleted');
  });
}
