import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Html } from './html.ts';

/* What the sender console's route modules share (console.ts registers them). */

/** Given by console.ts: the signed-in sender (or a redirect already sent) and the page frame. */
export interface ConsoleHelpers {
  sender(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined>;
  consolePage(request: FastifyRequest, user: string, title: string, body: Html, script?: string): string;
}

/** An access-log event; kinds as strings, since h-deliver's notice states arrive as new kinds. */
export interface LoggedEvent {
  kind: string;
  detail: string | null;
}

export const MESSAGE_ID = /^[A-Za-z0-9_-]{22}$/;

const EVENT_TEXT: Record<string, string> = {
  created: 'created', 'notice-sent': 'notice sent', 'notice-delivered': 'notice delivered', 'notice-failed': 'notice failed', opened: 'opened',
  'failed-attempt': 'failed attempt', locked: 'locked', downloaded: 'attachment downloaded', replied: 'replied', retracted: 'retracted', expired: 'expired',
  deleted: 'deleted by the recipient', 'expiry-changed': 'expiry changed', 'code-sent': 'one-time code sent', 'read-notice-sent': 'read notice sent', unlocked: 'unlocked',
};

/** An access-log event as a person reads it; a failed notice says why ("notice failed: 550 5.7.10 …"). */
export function eventText(event: LoggedEvent): string {
  const text = EVENT_TEXT[event.kind] ?? event.kind;
  return event.kind === 'notice-failed' && event.detail ? `${text}: ${event.detail}` : text;
}

/** Whether the event's detail column adds anything (a failed notice's reason is in its text already; a reply's detail is an id). */
export const eventDetailShown = (event: Pick<LoggedEvent, 'kind'>): boolean => event.kind !== 'replied' && event.kind !== 'notice-failed';

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

/** The CSS class of a state badge. */
export const stateClass = (state: string): string => `state ${state.replace(/ /g, '-')}`;
