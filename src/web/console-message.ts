import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isPickupError, type SentMessage } from '../pickup/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { eventDetailShown, eventText, MESSAGE_ID, messageState, stateClass, type ConsoleHelpers } from './console-shared.ts';
import { html, type Html } from './html.ts';
import { utcText } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import { noticeLinks, weakLinkText } from './link-warning.ts';
import { HttpError, ctx, requireCsrf, sendPage } from './security.ts';

/*
 * One secure message in the sender's console: who it went to (and who else it was composed
 * for), its state, replies and access log; change the expiry, unlock, retract it or the whole
 * composition. Retraction destroys the message for good, so it asks first, on a page of its
 * own (works without JavaScript; the confirming POST carries `confirm=yes` and the CSRF field).
 */

const DAY_MS = 86_400_000;
const LIVE = new Set(['active', 'locked']);

export function registerConsoleMessage(app: FastifyInstance, c: WebContext, helpers: ConsoleHelpers): void {
  /** Someone else's message reads as unknown, so ids cannot be probed. */
  async function ownMessage(user: string, id: string): Promise<SentMessage> {
    const message = MESSAGE_ID.test(id) ? await c.pickup.sent.message(user, id) : undefined;
    if (!message) throw new HttpError(404, 'No such message among yours.');
    return message;
  }

  const subjectOf = (m: SentMessage) => (m.view ? shown(m.view.subject) || '(no subject)' : '(subject destroyed with the message)');

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/console/m/:id', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const message = await ownMessage(user, request.params.id);
    const facts = (await c.pickup.describe(message.id))!;
    const [events, replies, together, links, thread] = await Promise.all([
      c.pickup.events(message.id), c.pickup.replies.list(message.id), c.pickup.sent.composition(user, message.id), noticeLinks(c.store, [message.recipient], c.clock.now()),
      c.pickup.sent.thread(message.threadId ?? message.id, user, message.recipient),
    ]);
    const state = messageState(facts.state, facts.openedAt, events);
    const { csrf } = ctx(request);
    const live = LIVE.has(facts.state);
    const others = together.filter((m) => m.id !== message.id);
    const liveTogether = together.filter((m) => LIVE.has(m.state));
    const done: Record<string, string> = {
      retracted: 'The message is retracted: its key is destroyed and the link now says it was withdrawn.',
      'retracted-all': 'The message is retracted for every recipient: their keys are destroyed and their links now say it was withdrawn.',
      expiry: 'The expiry is changed.',
      unlocked: `The message to ${shown(message.recipient)} is unlocked: they have ${c.pickup.gate.maxFailures} attempts again.`,
    };
    const days = Math.max(1, Math.ceil((facts.expiresAt - c.clock.now()) / DAY_MS));
    const files = message.view?.attachments ?? [];
    const weak = live && (facts.verification === 'link' || facts.verification === 'code') ? links.filter((l) => l.weak) : [];
    const body = html`<h1 id="subject">${subjectOf(message)}</h1>
<p class="meta">To ${shown(message.recipient)} · sent ${formatTime(facts.createdAt)} · verification by ${facts.verification} · expires ${formatTime(facts.expiresAt)} · <span class="${stateClass(state)}" id="state">${state}</span></p>
${notice('ok', done[request.query.done ?? ''])}
${files.length ? html`<p class="meta" id="attachments">Attachments: ${files.map(shown).join(', ')}</p>` : ''}
${others.length ? html`<section class="card"><h2>Sent together to</h2><ul class="files" id="composition">${others.map((m) => html`<li><a href="/console/m/${m.id}">${shown(m.recipient)}</a> <span class="${stateClass(m.state)}">${m.state}</span></li>`)}</ul></section>` : ''}
${weak.map((l) => notice('info', `${weakLinkText(l)} The notice with the link and message password${facts.verification === 'code' ? ', and each one-time code,' : ''} may be read on the way. For the next message to this recipient choose passphrase verification and tell them the passphrase by phone or in person.`))}
${live ? html`<section class="card row">
<form method="post" action="/console/m/${message.id}/expiry">${csrfField(csrf)}<label for="days">Expires in (days)</label><input type="number" id="days" name="days" min="1" max="3650" value="${days}"><button type="submit" class="secondary">Change expiry</button></form>
<p><a class="button danger" href="/console/m/${message.id}/retract" id="retract">Retract this message…</a></p>
${liveTogether.length > 1 ? html`<p><a class="button danger" href="/console/m/${message.id}/retract-all" id="retract-all">Retract for all ${liveTogether.length} recipients…</a></p>` : ''}
</section>` : ''}
${facts.state === 'locked' ? html`<section class="card" id="locked"><p>Locked for ${shown(message.recipient)} after ${c.pickup.gate.maxFailures} failed attempts at the ${facts.verification === 'question' ? 'answer' : facts.verification}. If they were the recipient's own, unlock it for them; the access log shows where the attempts came from. Other recipients' messages are not affected.</p>
<form method="post" action="/console/m/${message.id}/unlock">${csrfField(csrf)}<button type="submit" class="secondary" id="unlock">Unlock for ${shown(message.recipient)}</button></form></section>` : ''}
<h2>Replies</h2>
${replies.length ? html`<div class="card"><ul class="files" id="replies">${replies.map((r) => html`<li><a href="/console/reply/${r.replyId}">Reply of ${formatTime(r.createdAt)}</a> <span class="meta">${r.state}</span>${LIVE.has(r.state) ? html` · <a href="/console/compose?reply=${r.replyId}" class="answer" aria-label="Reply to the reply of ${utcText(r.createdAt, 'en-GB')}">Reply</a>` : ''}</li>`)}</ul></div>` : html`<p class="meta">No replies.</p>`}
${thread.length > 1 ? html`<h2>Thread with ${shown(message.recipient)}</h2><div class="card"><ol class="files" id="thread">${thread.map((m) => html`<li>${m.id === message.id ? html`<strong>${subjectOf(m)}</strong> <span class="meta">(this message)</span>` : html`<a href="/console/m/${m.id}">${subjectOf(m)}</a>`} <span class="meta">${formatTime(m.createdAt)}</span> <span class="${stateClass(m.state)}">${m.state}</span></li>`)}</ol></div>` : ''}
<h2>Access log</h2>
${accessLog(events)}
<p><a href="/console">All messages</a></p>`;
    return sendPage(reply, 200, helpers.consolePage(request, user, `Message to ${shown(message.recipient)}`, body));
  });

  /** The page that asks before a retraction; also what a POST without `confirm=yes` gets. */
  function confirmPage(request: FastifyRequest, user: string, message: SentMessage, targets: SentMessage[], all: boolean): string {
    const { csrf } = ctx(request);
    const action = `/console/m/${message.id}/${all ? 'retract-all' : 'retract'}`;
    const whom: Html = all ? html`all ${targets.length} recipients: ${targets.map((m) => shown(m.recipient)).join(', ')}` : html`${shown(message.recipient)}`;
    const body = html`<h1>Retract “${subjectOf(message)}”?</h1>
<section class="card">
<p id="confirm-text">This destroys the message's key for ${whom}. Their links will say the message was withdrawn, their replies go too, and it cannot be undone.</p>
<form method="post" action="${action}">${csrfField(csrf)}<input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger" id="confirm-retract">${all ? `Retract for all ${targets.length} recipients` : 'Retract'}</button>
<a href="/console/m/${message.id}" id="cancel">Cancel</a></form>
</section>`;
    return helpers.consolePage(request, user, 'Retract message', body);
  }

  async function retractTargets(user: string, message: SentMessage, all: boolean): Promise<SentMessage[]> {
    const targets = all ? (await c.pickup.sent.composition(user, message.id)).filter((m) => LIVE.has(m.state)) : [message].filter((m) => LIVE.has(m.state));
    if (!targets.length) throw new HttpError(409, 'This message is already withdrawn or expired; there is nothing to retract.');
    return targets;
  }

  for (const all of [false, true]) {
    const path = `/console/m/:id/${all ? 'retract-all' : 'retract'}`;
    app.get<{ Params: { id: string } }>(path, async (request, reply) => {
      const user = await helpers.sender(request, reply);
      if (!user) return reply;
      const message = await ownMessage(user, request.params.id);
      return sendPage(reply, 200, confirmPage(request, user, message, await retractTargets(user, message, all), all));
    });
    app.post<{ Params: { id: string }; Body: { confirm?: string } }>(path, async (request, reply) => {
      requireCsrf(request);
      const user = await helpers.sender(request, reply);
      if (!user) return reply;
      const message = await ownMessage(user, request.params.id);
      const targets = await retractTargets(user, message, all);
      if (request.body?.confirm !== 'yes') return sendPage(reply, 200, confirmPage(request, user, message, targets, all));
      for (const target of targets) {
        await c.pickup.retract(target.id, clientIp(request));
        await c.sessions.endAllOf('recipient', target.id);
      }
      c.logger.info({ audit: true, action: 'pickup.retract', messageIds: targets.map((t) => t.id), user, ip: clientIp(request) }, 'pickup messages retracted by their sender');
      return redirect(reply, `/console/m/${message.id}?done=${all ? 'retracted-all' : 'retracted'}`);
    });
  }

  // Only the sender may lift a lock, and it is audited (issue 9 item 13).
  app.post<{ Params: { id: string } }>('/console/m/:id/unlock', async (request, reply) => {
    requireCsrf(request);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const message = await ownMessage(user, request.params.id);
    if (!(await c.pickup.gate.unlock(message.id, user, clientIp(request)))) throw new HttpError(409, 'This message is withdrawn or expired; there is nothing to unlock.');
    c.logger.info({ audit: true, action: 'pickup.unlock', messageId: message.id, user, ip: clientIp(request) }, 'pickup message unlocked by its sender');
    return redirect(reply, `/console/m/${message.id}?done=unlocked`);
  });

  app.post<{ Params: { id: string }; Body: { days?: string } }>('/console/m/:id/expiry', async (request, reply) => {
    requireCsrf(request);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const message = await ownMessage(user, request.params.id);
    const days = Number(request.body?.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new HttpError(400, 'The expiry must be a whole number of days from 1 to 3650.');
    try {
      await c.pickup.changeExpiry(message.id, c.clock.now() + days * DAY_MS, clientIp(request));
    } catch (error) {
      if (isPickupError(error)) throw new HttpError(409, 'This message is withdrawn or expired; its expiry cannot change.');
      throw error;
    }
    return redirect(reply, `/console/m/${message.id}?done=expiry`);
  });
}

/** The access log as a table whose rows stack into labelled blocks at phone width (class `stack`). */
function accessLog(events: Awaited<ReturnType<WebContext['pickup']['events']>>): Html {
  return html`<div class="card"><table id="access-log" class="stack"><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">IP address</th><th scope="col">Detail</th></tr></thead><tbody>
${events.map((e) => html`<tr><td data-label="Time">${formatTime(e.at)}</td><td data-label="Event">${eventText(e)}</td><td data-label="IP address">${e.ip ?? ''}</td><td data-label="Detail">${eventDetailShown(e) ? shown(e.detail ?? '') : ''}</td></tr>`)}
</tbody></table></div>`;
}
