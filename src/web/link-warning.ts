import { LinkPins, LinkSecurityMemory, meets, type LinkLevel } from '../linksec/index.ts';
import type { Store } from '../store/index.ts';
import type { Translator } from './i18n/index.ts';

/*
 * Issue 10 item 3: a pickup's notice carries the link and the message password (and a one-time
 * code is e-mailed the same way), so the notice path is the weak point of a pickup. The sender
 * is told before and after sending when the recipient's domain is not known to take mail at
 * `tls-verified` or better, from what the link-security memory holds (the weakest MX the
 * domain proved: a notice may go to any of them) and what the admin pinned.
 */

export interface NoticeLink {
  domain: string;
  /** The weakest level the domain's MX hosts proved and still hold; null when nothing is known yet. */
  level: LinkLevel | null;
  /** The admin's pin for the domain, when there is one. */
  pin: LinkLevel | null;
  /** True when the notice may cross a link below tls-verified. */
  weak: boolean;
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** What is known of the notice path to each recipient's domain (one entry per domain, in order). */
export async function noticeLinks(store: Store, recipients: string[], now: number): Promise<NoticeLink[]> {
  const memory = new LinkSecurityMemory(store);
  const pins = new Map((await new LinkPins(store).list()).map((p) => [p.domain, p.minLevel]));
  const domains = [...new Set(recipients.map(domainOf))];
  return Promise.all(domains.map(async (domain) => {
    const proven = await memory.proven(domain, now);
    const level = proven.length ? proven.map((p) => p.level).reduce((weakest, l) => (meets(l, weakest) ? weakest : l)) : null;
    return { domain, level, pin: pins.get(domain) ?? null, weak: level === null || !meets(level, 'tls-verified') };
  }));
}

const LEVEL_KEY = {
  none: 'console.link.level.none', tls: 'console.link.level.tls', 'tls-verified': 'console.link.level.tlsVerified', dane: 'console.link.level.dane',
} as const satisfies Record<LinkLevel, string>;

/** One sentence per weak domain, for compose and the message page. */
export function weakLinkText(tr: Translator, link: NoticeLink): string {
  const known = link.level === null
    ? tr.text('console.link.unknown', { domain: link.domain })
    : tr.text('console.link.below', { domain: link.domain, how: tr.text(LEVEL_KEY[link.level]), level: link.level });
  return link.pin ? `${known} ${tr.text('console.link.pin', { pin: link.pin })}` : known;
}
