import addressparser from 'nodemailer/lib/addressparser';
import type { SMTPServerSession } from 'smtp-server';
import { MailError } from '../../kernel/index.ts';
import type { OwnedSenders } from '../../accounts/index.ts';
import { parseAddress, parseHeaders } from '../../mail/index.ts';

/*
 * Submission: an authenticated user sends only as addresses their account owns, in the
 * envelope and in the header (Postfix `reject_sender_login_mismatch` with
 * smtpd_sender_login_maps; maddy `check.authorize_sender`). The null sender `<>` is refused
 * too: a user's mail is never a bounce, and a null sender would bounce nowhere.
 */

/** The listener's question to accounts; without one a user owns just their user name. */
export type SendersOf = (username: string) => Promise<OwnedSenders>;

export function ownsSender(address: string, owned: OwnedSenders): boolean {
  const parsed = parseAddress(address);
  if (!parsed) return false;
  const normalized = `${parsed.local.toLowerCase()}@${parsed.domain}`;
  return owned.addresses.some((a) => a.toLowerCase() === normalized) || owned.domains.some((d) => d.toLowerCase() === parsed.domain);
}

function notYours(address: string, where: string): MailError {
  // The address is named so the user sees which one; it passed the door's address check (or is
  // quoted as JSON below), so it carries no line breaks into the reply.
  const shown = address === '' ? '<>' : `<${address}>`;
  return new MailError(553, '5.7.1', `Sender address rejected: ${shown} in ${where} is not owned by your account; use your own address or ask an admin for an alias (sealgate user alias add)`, 'smtp');
}

/** What the listener remembers per session: the user's senders, looked up at MAIL FROM. */
const ownedBySession = new WeakMap<SMTPServerSession, OwnedSenders>();

function fallbackOwned(username: string): OwnedSenders {
  return { addresses: username.includes('@') ? [username.toLowerCase()] : [], domains: [] };
}

/** MAIL FROM on submission: resolves with a refusal, or null when the user owns the address. */
export async function checkEnvelopeSender(session: SMTPServerSession, mailFrom: string, sendersOf: SendersOf | undefined): Promise<MailError | null> {
  const user = typeof session.user === 'string' ? session.user : '';
  const owned = sendersOf ? await sendersOf(user) : fallbackOwned(user);
  ownedBySession.set(session, owned);
  if (mailFrom === '' || !ownsSender(mailFrom, owned)) return notYours(mailFrom, 'MAIL FROM');
  return null;
}

/**
 * The `From:` (and `Sender:`) mailboxes of a submitted header block must be the user's too:
 * otherwise the recipient's client shows a name the user does not own. A `From:` with no
 * readable address is refused as well (it could hide a forged one from us but not from a
 * lenient reader). Mail without a `From:` has nothing to forge.
 */
export function checkHeaderSenders(session: SMTPServerSession, headerBlock: string): MailError | null {
  const owned = ownedBySession.get(session) ?? fallbackOwned(typeof session.user === 'string' ? session.user : '');
  const headers = parseHeaders(headerBlock);
  for (const name of ['From', 'Sender'] as const) {
    const fields = headers.filter((h) => h.name.toLowerCase() === name.toLowerCase());
    if (name === 'From' && fields.length > 1) return new MailError(550, '5.6.0', 'More than one From: header (RFC 5322 3.6 allows one)', 'smtp');
    for (const field of fields) {
      const mailboxes = addressparser(field.value, { flatten: true }).map((m) => m.address ?? '');
      if (mailboxes.length === 0 || mailboxes.some((m) => m === '')) {
        return new MailError(553, '5.7.1', `Sender address rejected: the ${name}: header has no address your account owns`, 'smtp');
      }
      // The lenient parser repairs broken syntax (`alice@x bob@y` → alice, named "bob@y"); a
      // mail client may repair it otherwise and show bob. So every address-like word outside
      // quotes and comments (where RFC 5322 allows no unquoted `@` but in an addr-spec) counts.
      for (const mailbox of [...mailboxes, ...(outsideQuotesAndComments(field.value).match(ADDRESS_LIKE) ?? [])]) {
        if (!ownsSender(mailbox, owned)) return notYours(parseAddress(mailbox) ? mailbox : JSON.stringify(mailbox.slice(0, 80)), `the ${name}: header`);
      }
    }
  }
  return null;
}

const ADDRESS_LIKE = /[^\s<>,;:()"]*@[^\s<>,;:()"]*/g;

/** A header value with its quoted strings and (nested) comments each turned into a space. */
function outsideQuotesAndComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if ((quoted || depth > 0) && c === '\\') i++;
    else if (quoted) {
      if (c === '"') {
        quoted = false;
        out += ' ';
      }
    } else if (c === '(') depth++;
    else if (c === ')' && depth > 0) {
      if (--depth === 0) out += ' ';
    } else if (depth > 0) continue;
    else if (c === '"') quoted = true;
    else out += c;
  }
  return out;
}

/**
 * Inbound (unauthenticated): a MAIL FROM in one of our own domains is refused, since our users
 * submit with authentication; a domain whose mail legitimately comes from outside (a list
 * server, a SaaS sender) sets `allowExternalSenders`. The null sender passes (bounces).
 */
export function checkInboundSender(mailFrom: string, domains: Record<string, { allowExternalSenders?: boolean }>): MailError | null {
  const parsed = mailFrom ? parseAddress(mailFrom) : null;
  if (!parsed) return null;
  const entry = Object.entries(domains).find(([name]) => name.toLowerCase() === parsed.domain);
  if (!entry || entry[1].allowExternalSenders) return null;
  return new MailError(550, '5.7.1', `Sender address rejected: <${mailFrom}> is in a domain we host; its users send through the submission port with authentication`, 'smtp');
}
