import type { FastifyInstance } from 'fastify';
import { SENT_LIST_LIMIT, type Composition } from '../pickup/index.ts';
import type { WebContext } from './context.ts';
import { html } from './html.ts';
import { i18n, type Translator } from './i18n/index.ts';
import { formatTime, notice, shown } from './layout.ts';
import { messageState, stateBadge, subjectText, type ConsoleHelpers } from './console-shared.ts';
import { sendPage } from './security.ts';

/*
 * The sender's list (issue 10 item 7): one entry per composed message with its subject,
 * attachments and each recipient's state, newest first, and a search over what the server can
 * open for this sender. Lists, not a table: each entry stacks at phone width by itself.
 */

/** Compositions shown on one page; the search reaches the SENT_LIST_LIMIT newest messages. */
const SHOWN = 200;
const MAX_QUERY = 200;

export function registerConsoleList(app: FastifyInstance, c: WebContext, helpers: ConsoleHelpers): void {
  async function entry(tr: Translator, group: Composition) {
    const recipients = await Promise.all(group.messages.map(async (m) => {
      const [events, replies] = await Promise.all([c.pickup.events(m.id), c.pickup.replies.list(m.id)]);
      const state = messageState(m.state, m.openedAt, events);
      return html`<li class="recipient"><a href="/console/m/${m.id}">${shown(m.recipient)}</a> ${stateBadge(tr, state)}${replies.length ? html` <span class="meta">${tr.t('console.list.replies', { count: replies.length })}</span>` : ''}</li>`;
    }));
    const first = group.messages[0]!;
    const files = group.view?.attachments ?? [];
    const facts = [tr.t('console.list.sentAt', { time: formatTime(group.createdAt, tr) }), tr.t('console.list.recipients', { count: group.messages.length })];
    if (files.length) facts.push(tr.t('console.list.attachments', { count: files.length, names: files.map(shown).join(', ') }));
    return html`<li class="card composition">
<h2 class="subject"><a href="/console/m/${first.id}">${subjectText(tr, group.view)}</a></h2>
<p class="meta">${facts.map((f, i) => html`${i ? ' · ' : ''}${f}`)}</p>
<ul class="files recipients">${recipients}</ul>
</li>`;
  }

  app.get<{ Querystring: { sent?: string; q?: string } }>('/console', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const query = String(request.query.q ?? '').slice(0, MAX_QUERY).trim();
    const { compositions, truncated } = await c.pickup.sent.list(user, { query });
    const entries = await Promise.all(compositions.slice(0, SHOWN).map((group) => entry(tr, group)));
    const sent = Number(request.query.sent);
    const sentText = Number.isInteger(sent) && sent > 0 && sent <= 1000 ? tr.text('console.list.sent', { count: sent }) : undefined;
    const more = compositions.length > SHOWN ? tr.text('console.list.more', { shown: SHOWN, total: compositions.length }) : undefined;
    const reach = truncated ? tr.text('console.list.reach', { limit: SENT_LIST_LIMIT }) : undefined;
    const empty = query ? tr.text('console.list.noMatch', { query }) : tr.text('console.list.empty');
    const body = html`<h1>${tr.t('console.list.heading')}</h1>
${notice('ok', sentText)}
<p><a href="/console/compose" class="button" id="compose">${tr.t('console.list.compose')}</a> <a href="/console/analyze" id="analyze-link">${tr.t('console.analyze.link')}</a></p>
<form method="get" action="/console" role="search" class="card" id="search-form">
<label for="q">${tr.t('console.list.searchLabel')}</label>
<input type="search" id="q" name="q" value="${query}" maxlength="${MAX_QUERY}" aria-describedby="q-hint">
<p class="meta" id="q-hint">${tr.t('console.list.searchHint')}</p>
<button type="submit" class="secondary" id="search">${tr.t('console.list.searchButton')}</button>${query ? html` <a href="/console">${tr.t('console.list.showAll')}</a>` : ''}
</form>
${notice('info', more)}${notice('info', reach)}
${entries.length ? html`<ul class="compositions" id="messages">${entries}</ul>` : notice('info', empty)}`;
    return sendPage(reply, 200, helpers.consolePage(request, user, query ? tr.text('console.list.searchTitle', { query }) : tr.text('console.list.title'), body));
  });
}
