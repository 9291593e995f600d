import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isPickupError, type SentMessage } from '../pickup/index.ts';
import { clientIp, redirect, type WebContext } from './context.ts';
import { eventDetailShown, eventText, MESSAGE_ID, messageState, stateBadge, subjectText, type ConsoleHelpers } from './console-shared.ts';
import { html, type Html } from './html.ts';
import { i18n, utcText, type Translator } from './i18n/index.ts';
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
  async function ownMessage(request: FastifyRequest, user: string, id: string): Promise<SentMessage> {
    const message = MESSAGE_ID.test(id) ? await c.pickup.sent.message(user, id) : undefined;
    if (!message) throw new HttpError(404, i18n(request).text('console.error.noMessage'));
    return message;
  }

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/console/m/:id', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const tr = i18n(request);
    const message = await ownMessage(request, user, request.params.id);
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
    const recipient = shown(message.recipient);
    const done: Record<string, string> = {
      retracted: tr.text('console.message.done.retracted'),
      'retracted-all': tr.text('console.message.done.retractedAll'),
      expiry: tr.text('console.message.done.expiry'),
      unlocked: tr.text('console.message.done.unlocked', { recipient, count: c.pickup.gate.maxFailures }),
    };
    const days = Math.max(1, Math.ceil((facts.expiresAt - c.clock.now()) / DAY_MS));
    const files = message.view?.attachments ?? [];
    const verification = facts.verification as 'link' | 'code' | 'passphrase' | 'question';
    const weak = live && (verification === 'link' || verification === 'code') ? links.filter((l) => l.weak) : [];
    const secret = verification === 'question' ? tr.text('console.secret.answer') : verification === 'code' ? tr.text('console.secret.code') : tr.text('console.secret.passphrase');
    const meta = tr.t('console.message.meta', { recipient, sent: formatTime(facts.createdAt, tr), verification: tr.text(`console.verification.${verification}`), expires: formatTime(facts.expiresAt, tr) });
    const body = html`<h1 id="subject">${subjectText(tr, message.view)}</h1>
<p class="meta">${meta} · ${stateBadge(tr, state, 'state')}</p>
${notice('ok', done[request.query.done ?? ''])}
${files.length ? html`<p class="meta" id="attachments">${tr.t('console.message.attachments', { names: files.map(shown).join(', ') })}</p>` : ''}
${others.length ? html`<section class="card"><h2>${tr.t('console.message.together')}</h2><ul class="files" id="composition">${others.map((m) => html`<li><a href="/console/m/${m.id}">${shown(m.recipient)}</a> ${stateBadge(tr, m.state)}</li>`)}</ul></section>` : ''}
${weak.map((l) => notice('info', tr.t(verification === 'code' ? 'console.message.weakCode' : 'console.message.weak', { reason: weakLinkText(tr, l) })))}
${live ? html`<section class="card row">
<form method="post" action="/console/m/${message.id}/expiry">${csrfField(csrf)}<label for="days">${tr.t('console.message.expiresIn')}</label><input type="number" id="days" name="days" min="1" max="3650" value="${days}"><button type="submit" class="secondary">${tr.t('console.message.changeExpiry')}</button></form>
<p><a class="button danger" href="/console/m/${message.id}/retract" id="retract">${tr.t('console.message.retract')}</a></p>
${liveTogether.length > 1 ? html`<p><a class="button danger" href="/console/m/${message.id}/retract-all" id="retract-all">${tr.t('console.message.retractAll', { count: liveTogether.length })}</a></p>` : ''}
</section>` : ''}
${facts.state === 'locked' ? html`<section class="card" id="locked"><p>${tr.t('console.message.locked', { recipient, count: c.pickup.gate.maxFailures, secret })}</p>
<form method="post" action="/console/m/${message.id}/unlock">${csrfField(csrf)}<button type="submit" class="secondary" id="unlock">${tr.t('console.message.unlock', { recipient })}</button></form></section>` : ''}
<h2>${tr.t('console.message.replies')}</h2>
${replies.length ? html`<div class="card"><ul class="files" id="replies">${replies.map((r) => html`<li><a href="/console/reply/${r.replyId}">${tr.t('console.message.replyOf', { time: formatTime(r.createdAt, tr) })}</a> ${stateBadge(tr, r.state)}${LIVE.has(r.state) ? html` · <a href="/console/compose?reply=${r.replyId}" class="answer" aria-label="${tr.text('console.message.answerLabel', { time: utcText(r.createdAt, tr.intlLocale) })}">${tr.t('console.message.answer')}</a>` : ''}</li>`)}</ul></div>` : html`<p class="meta">${tr.t('console.message.noReplies')}</p>`}
${thread.length > 1 ? html`<h2>${tr.t('console.message.thread', { recipient })}</h2><div class="card"><ol class="files" id="thread">${thread.map((m) => html`<li>${m.id === message.id ? html`<strong>${subjectText(tr, m.view)}</strong> <span class="meta">${tr.t('console.message.thisMessage')}</span>` : html`<a href="/console/m/${m.id}">${subjectText(tr, m.view)}</a>`} <span class="meta">${formatTime(m.createdAt, tr)}</span> ${stateBadge(tr, m.state)}</li>`)}</ol></div>` : ''}
<h2>${tr.t('console.message.log')}</h2>
${accessLog(tr, events)}
<p><a href="/console">${tr.t('console.message.all')}</a></p>`;
    return sendPage(reply, 200, helpers.consolePage(request, user, tr.text('console.message.title', { recipient }), body));
  });

  /** The page that asks before a retraction; also what a POST without `confirm=yes` gets. */
  function confirmPage(request: FastifyRequest, user: string, message: SentMessage, targets: SentMessage[], all: boolean): string {
    const { csrf } = ctx(request);
    const tr = i18n(request);
    const action = `/console/m/${message.id}/${all ? 'retract-all' : 'retract'}`;
    const whom = all ? tr.t('console.retract.whomAll', { count: targets.length, names: targets.map((m) => shown(m.recipient)).join(', ') }) : shown(message.recipient);
    const body = html`<h1>${tr.t('console.retract.heading', { subject: subjectText(tr, message.view) })}</h1>
<section class="card">
<p id="confirm-text">${tr.t('console.retract.text', { whom })}</p>
<form method="post" action="${action}">${csrfField(csrf)}<input type="hidden" name="confirm" value="yes">
<button type="submit" class="danger" id="confirm-retract">${all ? tr.t('console.retract.buttonAll', { count: targets.length }) : tr.t('console.retract.button')}</button>
<a href="/console/m/${message.id}" id="cancel">${tr.t('console.retract.cancel')}</a></form>
</section>`;
    return helpers.consolePage(request, user, tr.text('console.retract.title'), body);
  }

  async function retractTargets(request: FastifyRequest, user: string, message: SentMessage, all: boolean): Promise<SentMessage[]> {
    const targets = all ? (await c.pickup.sent.composition(user, message.id)).filter((m) => LIVE.has(m.state)) : [message].filter((m) => LIVE.has(m.state));
    if (!targets.length) throw new HttpError(409, i18n(request).text('console.error.nothingToRetract'));
    return targets;
  }

  for (const all of [false, true]) {
    const path = `/console/m/:id/${all ? 'retract-all' : 'retract'}`;
    app.get<{ Params: { id: string } }>(path, async (request, reply) => {
      const user = await helpers.sender(request, reply);
      if (!user) return reply;
      const message = await ownMessage(request, user, request.params.id);
      return sendPage(reply, 200, confirmPage(request, user, message, await retractTargets(request, user, message, all), all));
    });
    app.post<{ Params: { id: string }; Body: { confirm?: string } }>(path, async (request, reply) => {
      requireCsrf(request);
      const user = await helpers.sender(request, reply);
      if (!user) return reply;
      const message = await ownMessage(request, user, request.params.id);
      const targets = await retractTargets(request, user, message, all);
      if (request.body?.confirm !== 'yes') return sendPage(reply, 200, confirmPage(request, user, message, targets, all));
      for (const target of targets) {
        await c.pickup.retract(target.id, clientIp(request));
        await c.sessions.endAllOf('recipient', target.id);
      }
      c.logger.info({ audit: true, action: 'pickup.retract', messageIds: targets.map((t) => t.id), user, ip: clientIp(request) }, 'pickup messages retracted by their sender');
      for (const t of targets) await c.audit.record({ actor: user, action: 'pickup.retract', target: t.id, ip: clientIp(request), protocol: 'console', detail: { recipient: t.recipient } });
      return redirect(reply, `/console/m/${message.id}?done=${all ? 'retracted-all' : 'retracted'}`);
    });
  }

  // Only the sender may lift a lock, and it is audited (issue 9 item 13).
  app.post<{ Params: { id: string } }>('/console/m/:id/unlock', async (request, reply) => {
    requireCsrf(request);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const message = await ownMessage(request, user, request.params.id);
    if (!(await c.pickup.gate.unlock(message.id, user, clientIp(request)))) throw new HttpError(409, i18n(request).text('console.error.nothingToUnlock'));
    c.logger.info({ audit: true, action: 'pickup.unlock', messageId: message.id, user, ip: clientIp(request) }, 'pickup message unlocked by its sender');
    await c.audit.record({ actor: user, action: 'pickup.unlock', target: message.id, ip: clientIp(request), protocol: 'console' });
    return redirect(reply, `/console/m/${message.id}?done=unlocked`);
  });

  app.post<{ Params: { id: string }; Body: { days?: string } }>('/console/m/:id/expiry', async (request, reply) => {
    requireCsrf(request);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const message = await ownMessage(request, user, request.params.id);
    const days = Number(request.body?.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new HttpError(400, i18n(request).text('console.error.expiryRange'));
    try {
      await c.pickup.changeExpiry(message.id, c.clock.now() + days * DAY_MS, clientIp(request));
    } catch (error) {
      if (isPickupError(error)) throw new HttpError(409, i18n(request).text('console.error.expiryWithdrawn'));
      throw error;
    }
    return redirect(reply, `/console/m/${message.id}?done=expiry`);
  });
}

/** The access log as a table whose rows stack into blocks labelled by `data-label` at phone width (portal.css). */
function accessLog(tr: Translator, events: Awaited<ReturnType<WebContext['pickup']['events']>>): Html {
  const [time, event, ip, detail] = [tr.text('console.log.time'), tr.text('console.log.event'), tr.text('console.log.ip'), tr.text('console.log.detail')];
  return html`<div class="card"><table id="access-log"><thead><tr><th scope="col">${time}</th><th scope="col">${event}</th><th scope="col">${ip}</th><th scope="col">${detail}</th></tr></thead><tbody>
${events.map((e) => html`<tr><td data-label="${time}">${formatTime(e.at, tr)}</td><td data-label="${event}">${eventText(tr, e)}</td><td data-label="${ip}">${e.ip ?? ''}</td><td data-label="${detail}">${eventDetailShown(e) ? shown(e.detail ?? '') : ''}</td></tr>`)}
</tbody></table></div>`;
}
