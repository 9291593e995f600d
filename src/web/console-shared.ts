import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, type Html } from './html.ts';
import type { MessageKey, Translator } from './i18n/index.ts';
import { shown } from './layout.ts';
import type { Session } from './sessions.ts';

/* What the sender console's route modules share (console.ts registers them). */

/** Given by console.ts: the signed-in sender (or a redirect already sent) and the page frame. */
export interface ConsoleHelpers {
  sender(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined>;
  consolePage(request: FastifyRequest, user: string, title: string, body: Html, script?: string): string;
  /** The session `sender` resumed for this request. */
  session(request: FastifyRequest): Session | undefined;
}

/** An access-log event; kinds as strings, since h-deliver's notice states arrive as new kinds. */
export interface LoggedEvent {
  kind: string;
  detail: string | null;
}

export const MESSAGE_ID = /^[A-Za-z0-9_-]{22}$/;

const EVENT_KEYS: Record<string, MessageKey> = {
  created: 'console.event.created', 'notice-sent': 'console.event.noticeSent', 'notice-delivered': 'console.event.noticeDelivered', opened: 'console.event.opened',
  'failed-attempt': 'console.event.failedAttempt', locked: 'console.event.locked', downloaded: 'console.event.downloaded', replied: 'console.event.replied',
  retracted: 'console.event.retracted', expired: 'console.event.expired', deleted: 'console.event.deleted', 'expiry-changed': 'console.event.expiryChanged',
  'code-sent': 'console.event.codeSent', 'read-notice-sent': 'console.event.readNoticeSent', unlocked: 'console.event.unlocked',
};

/** An access-log event as a person reads it; a failed notice says why ("notice failed: 550 5.7.10 …"). */
export function eventText(tr: Translator, event: LoggedEvent): string {
  if (event.kind === 'notice-failed') return event.detail ? tr.text('console.event.noticeFailed', { reason: event.detail }) : tr.text('console.event.noticeFailedNoReason');
  const key = EVENT_KEYS[event.kind];
  return key ? tr.text(key as 'console.event.created') : event.kind;
}

/** Whether the event's detail column adds anything (a failed notice's reason is in its text already; a reply's detail is an id). */
export const eventDetailShown = (event: Pick<LoggedEvent, 'kind'>): boolean => event.kind !== 'replied' && event.kind !== 'notice-failed';

const STATE_KEYS: Record<string, MessageKey> = {
  active: 'console.state.active', locked: 'console.state.locked', retracted: 'console.state.retracted', expired: 'console.state.expired', deleted: 'console.state.deleted',
  replied: 'console.state.replied', opened: 'console.state.opened', 'notice sent': 'console.state.noticeSent', 'notice delivered': 'console.state.noticeDelivered',
  'notice failed': 'console.state.noticeFailed', waiting: 'console.state.waiting',
};

/** A state badge: the class names the state (for the style sheet), the text is in the page's language. */
export function stateBadge(tr: Translator, state: string, id?: string): Html {
  const key = STATE_KEYS[state];
  const text = key ? tr.text(key as 'console.state.active') : state;
  return id ? html`<span class="state ${state.replace(/ /g, '-')}" id="${id}">${text}</span>` : html`<span class="state ${state.replace(/ /g, '-')}">${text}</span>`;
}

/** A subject as the console shows it: destroyed with a withdrawn message, marked when empty. */
export function subjectText(tr: Translator, view: { subject: string } | null): string {
  if (!view) return tr.text('console.subjectGone');
  return shown(view.subject) || tr.text('console.noSubject');
}

/** The state the sender cares about: the stored one, or for a live message how far it got. */
export function messageState(state: string, openedAt: number | null, events: readonly LoggedEvent[]): string {
  if (state !== 'active') return state;
  if (events.some((e) => e.kind === 'replied')) return 'replied';
  if (openedAt !== null) return 'opened';
  const notice = events.filter((e) => e.kind === 'notice-sent' || e.kind === 'notice-delivered' || e.kind === 'notice-failed').at(-1);
  if (notice?.kind === 'notice-failed') return 'notice failed';
  if (notice?.kind === 'notice-delivered') return 'notice delivered';
  if (notice) return 'notice sent';
  return 'waiting';
}

