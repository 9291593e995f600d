import type { FastifyInstance } from 'fastify';
import { LinkPins, LinkSecurityMemory } from '../linksec/index.ts';
import type { AdminPages } from './admin-queue.ts';
import type { WebContext } from './context.ts';
import { html } from './html.ts';
import { i18n } from './i18n/index.ts';
import { formatTime, shown } from './layout.ts';
import { sendPage } from './security.ts';

/*
 * Domains in the admin console (issue 13), read-only: our own domains and their mailbox
 * servers, the outbound TLS policy with its per-domain exceptions, the admin pins, and the
 * link-security table (what each MX proved, and until when). Changes stay on the command line
 * (`sealgate domain pin|unpin|forget`, the config file), where they are audited.
 */

const SHOWN_LINKS = 500;

export function registerAdminDomains(app: FastifyInstance, c: WebContext, pages: AdminPages): void {
  app.get('/admin/domains', async (request, reply) => {
    const user = await pages.admin(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const [pins, links] = await Promise.all([new LinkPins(c.store).list(), new LinkSecurityMemory(c.store).list()]);
    const local = Object.entries(c.config.domains).map(([domain, d]) => html`<li>${shown(domain)} → ${shown(d.smarthost)}</li>`);
    const policies = Object.entries(c.config.delivery.tlsPolicies).map(([domain, policy]) => html`<li>${shown(domain)}: ${policy}</li>`);
    const pinRows = pins.map((p) => html`<li>${shown(p.domain)}: ${p.minLevel}${p.note ? html` · ${shown(p.note)}` : ''} · ${formatTime(p.createdAt, tr)}</li>`);
    const label = { domain: tr.text('admin.domains.domain'), level: tr.text('admin.domains.level'), cert: tr.text('admin.domains.certificate'), seen: tr.text('admin.domains.seen'), holds: tr.text('admin.domains.holds') };
    const linkRows = links.slice(0, SHOWN_LINKS).map((l) => html`<tr><td data-label="${label.domain}">${shown(l.domain)}</td><td data-label="MX">${shown(l.mxHost)}</td><td data-label="${label.level}">${l.level}</td><td data-label="TLS">${l.tlsVersion ? `${l.tlsVersion} ${l.cipher ?? ''}` : '—'}</td><td data-label="${label.cert}">${l.certValid ? tr.t('admin.domains.yes') : tr.t('admin.domains.no')}</td><td data-label="DANE / MTA-STS">${l.dane ?? '—'} / ${l.mtaSts ?? '—'}</td><td data-label="${label.seen}">${formatTime(l.at, tr)}</td><td data-label="${label.holds}">${formatTime(l.expiresAt, tr)}</td></tr>`);
    const none = html`<p>${tr.t('admin.domains.none')}</p>`;
    const body = html`<h1>${tr.t('admin.domains.heading')}</h1><p>${tr.t('admin.domains.intro')}</p>
<h2>${tr.t('admin.domains.local')}</h2>${local.length ? html`<ul class="card">${local}</ul>` : none}
<h2>${tr.t('admin.domains.policy')}</h2><p>${tr.t('admin.domains.default', { policy: c.config.delivery.defaultTlsPolicy })}</p>${policies.length ? html`<ul class="card">${policies}</ul>` : ''}
<h2>${tr.t('admin.domains.pins')}</h2>${pinRows.length ? html`<ul class="card">${pinRows}</ul>` : none}
<h2>${tr.t('admin.domains.links')}</h2>${linkRows.length ? html`<div class="table-wrap"><table><caption>${tr.t('admin.domains.linksCaption')}</caption>
<thead><tr><th scope="col">${label.domain}</th><th scope="col">MX</th><th scope="col">${label.level}</th><th scope="col">TLS</th><th scope="col">${label.cert}</th><th scope="col">DANE / MTA-STS</th><th scope="col">${label.seen}</th><th scope="col">${label.holds}</th></tr></thead>
<tbody>${linkRows}</tbody></table></div>` : none}`;
    return sendPage(reply, 200, pages.page(request, user, tr.text('admin.domains.title'), body));
  });
}
