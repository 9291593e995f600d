import type { FastifyRequest } from 'fastify';
import type { MessageFacts, PickupError, PickupFailure } from '../pickup/index.ts';
import { html, type Html } from './html.ts';
import { i18n, type MessageKey, type Translator } from './i18n/index.ts';
import { csrfField, notice, page, shown } from './layout.ts';
import { maskAddress } from './notices.ts';
import { ctx } from './security.ts';

/*
 * The page that asks for what the sender chose before a message opens, and the texts of what
 * went wrong. A failed attempt keeps what was typed except the secret itself (passphrase,
 * answer, code); the field at fault is marked (aria-invalid) and tied to the error, each hint
 * to its field (aria-describedby). Once a code is out, its field has the focus and "send a new
 * code" is only a secondary button.
 */

export const CODE_TTL_MINUTES = 10;

type TitleKey = Extract<MessageKey, `portal.${string}.title`>;

export const FAILURE: Record<PickupFailure, { status: number; title: TitleKey }> = {
  'not-found': { status: 404, title: 'portal.notFound.title' },
  withdrawn: { status: 410, title: 'portal.withdrawn.title' },
  locked: { status: 423, title: 'portal.locked.title' },
  'wrong-credentials': { status: 401, title: 'portal.notOpened.title' },
  'rate-limited': { status: 429, title: 'portal.rateLimited.title' },
  'code-expired': { status: 401, title: 'portal.codeExpired.title' },
  'code-required': { status: 401, title: 'portal.codeRequired.title' },
};

/** Fills the password from the link's fragment; forms keep the fragment across their redirect. */
const OPEN_SCRIPT = `(function () {
  var hash = location.hash.slice(1), field = document.getElementById('password');
  if (hash && field && !field.value) { try { field.value = decodeURIComponent(hash); } catch (e) { field.value = hash; } }
  document.querySelectorAll('form.keep-hash').forEach(function (form) {
    form.addEventListener('submit', function () { if (location.hash) form.action = form.getAttribute('action') + location.hash; });
  });
  // "Send a new code" appears once a code had time to arrive (without script it is always there).
  var resend = document.getElementById('resend');
  var wait = resend ? Number(resend.getAttribute('data-wait-ms')) : 0;
  if (wait > 0) { resend.hidden = true; setTimeout(function () { resend.hidden = false; }, wait); }
})();`;

/** How long after a code "Send a new code" is offered: e-mail can take a minute. */
export const RESEND_AFTER_MS = 60_000;

export interface OpenView {
  message?: { kind: 'error' | 'info'; text: Html };
  /** The field the failure is about. */
  invalid?: PickupError['field'];
  /** The message password as typed, kept after a failed attempt. */
  password?: string;
  /** The form asks for a one-time code: verification by code, or a browser the message is not bound to. */
  codeStep?: boolean;
  /** A code is out: its field gets the focus, a new one is only a secondary action. */
  codeLive?: boolean;
  /** When the newest code was e-mailed, for how long "Send a new code" waits. */
  codeSentAt?: number | null;
  now?: number;
  /** The code is for a browser the message is not bound to (the hint says so). */
  newBrowser?: boolean;
}

/** The sentence for a failed open, in the page's language; what the pickup layer said when no text fits. */
export function failureText(tr: Translator, error: PickupError, facts: MessageFacts | undefined): Html {
  if (error.reason === 'locked') return tr.t('portal.locked.text');
  if (error.reason === 'code-expired') return tr.t('portal.error.codeExpired', { minutes: CODE_TTL_MINUTES });
  if (error.reason === 'wrong-credentials') {
    if (error.field === 'password') return tr.t('portal.error.password');
    if (error.field === 'code') return tr.t('portal.error.code');
    if (error.field === 'secret') return tr.t(facts?.verification === 'question' ? 'portal.error.answer' : 'portal.error.passphrase');
  }
  return html`${error.message}`;
}

export function endPage(request: FastifyRequest, title: string, text: Html | string, kind: 'error' | 'info' | 'ok' = 'error'): string {
  return page({ title, nonce: ctx(request).nonce, i18n: i18n(request), body: html`<h1>${title}</h1>${notice(kind, text)}` });
}

const describedBy = (...ids: (string | false | undefined)[]): string => ids.filter(Boolean).join(' ');

export function openPage(request: FastifyRequest, facts: MessageFacts, view: OpenView = {}): string {
  const { csrf, nonce } = ctx(request);
  const tr = i18n(request);
  const action = `/m/${facts.id}`;
  const address = maskAddress(facts.recipient);
  const error = view.message?.kind === 'error' ? 'form-message' : undefined;
  const invalid = (field: OpenView['invalid']) => (view.invalid === field ? 'true' : 'false');
  const linked = (field: OpenView['invalid']) => (view.invalid === field ? error : undefined);
  const codeStep = view.codeStep || facts.verification === 'code';
  const counted = facts.verification !== 'link' || codeStep;
  const attempts = counted ? 'attempts-left' : undefined;
  const message = view.message ? html`<p class="notice ${view.message.kind}" id="form-message" role="${view.message.kind === 'error' ? 'alert' : 'status'}">${view.message.text}</p>` : '';

  const head = html`<h1>${tr.text('portal.open.heading')}</h1>
<p class="meta">${tr.t('portal.open.meta', { sender: shown(facts.sender), expires: tr.time(facts.expiresAt) })}</p>
${message}`;
  // Verified by code and no code out yet: the one thing to do is to ask for one.
  if (facts.verification === 'code' && !view.codeLive) {
    const body = html`${head}
<form method="post" action="${action}/code" class="card keep-hash" id="code-form">${csrfField(csrf)}
<p>${tr.t('portal.code.intro', { address })}</p>
<button type="submit" id="send-code">${tr.text('portal.code.send')}</button></form>`;
    return page({ title: tr.text('portal.title'), nonce, i18n: tr, body, script: OPEN_SCRIPT });
  }

  const secret = facts.verification === 'passphrase'
    ? html`<label for="secret">${tr.text('portal.passphrase.label')}</label>
<input type="password" id="secret" name="secret" autocomplete="off" required aria-describedby="${describedBy('secret-hint', linked('secret'), attempts)}" aria-invalid="${invalid('secret')}">
<p class="hint" id="secret-hint">${tr.text('portal.passphrase.hint')}</p>`
    : facts.verification === 'question'
      ? html`<label for="secret">${shown(facts.question)}</label>
<input type="text" id="secret" name="secret" autocomplete="off" required aria-describedby="${describedBy('secret-hint', linked('secret'), attempts)}" aria-invalid="${invalid('secret')}">
<p class="hint" id="secret-hint">${tr.text('portal.answer.hint')}</p>`
      : html``;
  const code = codeStep
    ? html`<label for="code">${tr.text('portal.code.label')}</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="12" required${view.codeLive ? html` autofocus` : ''} aria-describedby="${describedBy('code-hint', linked('code'), attempts)}" aria-invalid="${invalid('code')}">
<p class="hint" id="code-hint">${tr.t('portal.code.hint', { address, minutes: CODE_TTL_MINUTES })}</p>`
    : html``;
  const resend = codeStep && view.codeLive
    ? html`<div id="resend" data-wait-ms="${Math.max(0, (view.codeSentAt ?? 0) + RESEND_AFTER_MS - (view.now ?? Date.now()))}"><p class="meta" id="resend-hint">${tr.text('portal.code.resendHint')}</p>
<button type="submit" name="resend" value="1" formnovalidate class="secondary" id="send-new-code" aria-describedby="resend-hint">${tr.text('portal.code.resend')}</button></div>`
    : html``;
  const body = html`${head}
<form method="post" action="${action}" class="card keep-hash" id="open-form">${csrfField(csrf)}
<label for="password">${tr.text('portal.password.label')}</label>
<input type="password" id="password" name="password" value="${view.password ?? ''}" autocomplete="off" autocapitalize="characters" spellcheck="false" required aria-describedby="${describedBy('password-hint', linked('password'))}" aria-invalid="${invalid('password')}">
<p class="hint" id="password-hint">${tr.text('portal.password.hint')}</p>
${secret}${code}
${counted ? html`<p class="meta" id="attempts-left">${tr.t('portal.attemptsLeft', { count: facts.attemptsLeft })}</p>` : ''}
<button type="submit" id="open">${tr.text('portal.open.submit')}</button>
${resend}
</form>`;
  return page({ title: tr.text('portal.title'), nonce, i18n: tr, body, script: OPEN_SCRIPT });
}
