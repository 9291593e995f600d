import type { FastifyInstance } from 'fastify';
import { BREAK_GLASS_ACTOR } from '../accounts/index.ts';
import { scheduledJobs } from '../store/index.ts';
import type { AdminPages } from './admin-queue.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { html } from './html.ts';
import { i18n, type MessageKey } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import { HttpError, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * Retention in the admin console (issue 13): the period of each kind of data with the config
 * key that sets it (retention.* is config-only, so the page reads and does not edit), the purge
 * interval, its last scheduled start and the counts of the last purge that removed something,
 * and "purge now" for admins (retention-service.ts runPurge, audited). What `sealgate
 * retention show|run` prints.
 */

const JOB = 'retention-purge';

const PERIODS = [
  { days: 'finishedMessageDays', label: 'admin.retention.finished', note: 'admin.retention.finishedNote' },
  { days: 'receiptDays', label: 'admin.retention.receipts', note: 'admin.retention.receiptsNote' },
  { days: 'pickupDays', label: 'admin.retention.pickups', note: 'admin.retention.pickupsNote' },
  { days: 'auditDays', label: 'admin.retention.audit', note: 'admin.retention.auditNote' },
  { days: 'tlsReportDays', label: 'admin.retention.tlsReports', note: 'admin.retention.tlsReportsNote' },
] as const satisfies readonly { days: keyof WebContext['config']['retention']; label: MessageKey; note: MessageKey }[];

export function registerAdminRetention(app: FastifyInstance, c: WebContext, pages: AdminPages): void {
  const isAdmin = async (user: string) => user === BREAK_GLASS_ACTOR || (await c.users.rolesOf(user)).includes('admin');

  app.get<{ Querystring: { done?: string } }>('/admin/retention', async (request, reply) => {
    const user = await pages.admin(request, reply, ['admin', 'auditor']);
    if (!user) return reply;
    const tr = i18n(request);
    const { csrf } = ctx(request);
    const r = c.config.retention;
    const periods = PERIODS.map((p) => html`<li class="card period"><h2 class="subject">${tr.t(p.label)}</h2>
<p><strong>${tr.t('admin.retention.days', { count: r[p.days] })}</strong></p><p class="meta">${tr.t(p.note)}</p>
<p class="meta">${tr.t('admin.retention.key', { key: html`<code>retention.${p.days}</code>` })}</p></li>`);
    const job = (await scheduledJobs(c.store)).find((j) => j.name === JOB);
    const last = (await c.audit.list({ action: 'retention.purge', limit: 100_000 })).at(-1);
    const counts = last?.detail as Record<string, unknown> | undefined;
    const number = (key: string) => Number(counts?.[key] ?? 0);
    const lastRun = last
      ? html`<p>${tr.t('admin.retention.lastRemoved', { at: formatTime(last.at, tr), actor: shown(last.actor) })}</p>
<p class="meta" id="purge-counts">${tr.t('admin.retention.counts', { messages: number('finishedMessages'), receipts: number('receipts'), pickups: number('pickups'), audit: number('auditEvents'), before: String(counts?.tlsReportsBefore ?? '—') })}</p>`
      : html`<p>${tr.t('admin.retention.noRecord')}</p>`;
    const runNow = c.purge && (await isAdmin(user))
      ? html`<form method="post" action="/admin/retention/purge" class="card" id="purge-form">${csrfField(csrf)}<p class="meta">${tr.t('admin.retention.runNowNote')}</p>
<button type="submit" class="danger" id="purge-now">${tr.t('admin.retention.runNow')}</button></form>`
      : '';
    const done = request.query.done === 'purged' ? notice('ok', tr.text('admin.retention.purgedNow')) : '';
    const body = html`<h1>${tr.t('admin.retention.heading')}</h1>${done}<p>${tr.t('admin.retention.intro')}</p>
<ul class="files periods">${periods}</ul>
<h2>${tr.t('admin.retention.purgeHeading')}</h2>
<div class="card" id="purge-state"><p>${tr.t('admin.retention.interval', { count: Math.round(r.intervalMs / 60_000) })}</p>
<p class="meta">${tr.t('admin.retention.key', { key: html`<code>retention.intervalMs</code>` })}</p>
<p>${job && job.lastStartedAt ? tr.t('admin.retention.lastStart', { at: formatTime(job.lastStartedAt, tr), node: shown(job.owner ?? '—') }) : tr.t('admin.retention.neverRun')}</p>
${lastRun}</div>${runNow}`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.retention.title'), body));
  });

  app.post('/admin/retention/purge', async (request, reply) => {
    requireCsrf(request);
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    if (!c.purge) throw new HttpError(404, i18n(request).text('admin.retention.noPurge'));
    // runPurge records `retention.purge` with its counts, naming the admin; the page shows that event.
    const counts = await c.purge(user);
    c.logger.info({ audit: true, action: 'retention.purge', user, ip: clientIp(request), ...counts }, 'retention purge run from the admin console');
    return redirect(reply, '/admin/retention?done=purged');
  });
}
