import type { FastifyInstance } from 'fastify';
import { SENT_LIST_LIMIT, type Composition } from '../pickup/index.ts';
import type { WebContext } from './context.ts';
import { html } from './html.ts';
import { formatTime, notice, shown } from './layout.ts';
import { messageState, stateClass, type ConsoleHelpers } from './console-shared.ts';
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
  async function entry(group: Composition) {
    const recipients = await Promise.all(group.messages.map(async (m) => {
      const [events, replies] = await Promise.all([c.pickup.events(m.id), c.pickup.replies.list(m.id)]);
      const state = messageState(m.state, m.openedAt, events);
      return html`<li class="recipient"><a href="/console/m/${m.id}">${shown(m.recipient)}</a> <span class="${stateClass(state)}">${state}</span>${replies.length ? html` <span class="meta">${replies.length} repl${replies.length === 1 ? 'y' : 'ies'}</span>` : ''}</li>`;
    }));
    const first = group.messages[0]!;
    const subject = group.view ? shown(group.view.subject) || '(no subject)' : '(subject destroyed with the message)';
    const files = group.view?.attachments ?? [];
    return html`<li class="card composition">
<h2 class="subject"><a href="/console/m/${first.id}">${subject}</a></h2>
<p class="meta">Sent ${formatTime(group.createdAt)} · ${group.messages.length} recipient${group.messages.length === 1 ? '' : 's'}${files.length ? html` · ${files.length} attachment${files.length === 1 ? '' : 's'}: ${files.map(shown).join(', ')}` : ''}</p>
<ul class="files recipients">${recipients}</ul>
</li>`;
  }

  app.get<{ Querystring: { sent?: string; q?: string } }>('/console', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const query = String(request.query.q ?? '').slice(0, MAX_QUERY).trim();
    const { compositions, truncated } = await c.pickup.sent.list(user, { query });
    const entries = await Promise.all(compositions.slice(0, SHOWN).map(entry));
    const sent = Number(request.query.sent);
    const sentText = Number.isInteger(sent) && sent > 0 && sent <= 1000 ? `Sent ${sent} secure message${sent === 1 ? '' : 's'}. Each recipient gets a notice e-mail with their own link and message password.` : undefined;
    const more = compositions.length > SHOWN ? `Showing the newest ${SHOWN} of ${compositions.length}; search to find older ones.` : undefined;
    const reach = truncated ? `Search looks at your newest ${SENT_LIST_LIMIT} secure messages.` : undefined;
    const empty = query ? `No secure message matches “${query}”. Search looks at subjects, attachment names, recipients and states.` : 'No secure messages yet. Messages you send with [secure] in the subject appear here.';
    const body = html`<h1>Your secure messages</h1>
${notice('ok', sentText)}
<p><a href="/console/compose" class="button" id="compose">Write a secure message</a></p>
<form method="get" action="/console" role="search" class="card" id="search-form">
<label for="q">Search your messages</label>
<input type="search" id="q" name="q" value="${query}" maxlength="${MAX_QUERY}" aria-describedby="q-hint">
<p class="meta" id="q-hint">Subject, attachment name, recipient or state. Subjects of retracted or expired messages are destroyed with them and cannot be found.</p>
<button type="submit" class="secondary" id="search">Search</button>${query ? html` <a href="/console">Show all</a>` : ''}
</form>
${notice('info', more)}${notice('info', reach)}
${entries.length ? html`<ul class="compositions" id="messages">${entries}</ul>` : notice('info', empty)}`;
    return sendPage(reply, 200, helpers.consolePage(request, user, query ? `Search: ${query}` : 'Secure messages', body));
  });
}
