import { randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { systemClock, type Clock } from '../kernel/index.ts';
import { sanitizeEmailHtml } from '../mail/index.ts';
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Database, Store } from '../store/index.ts';
import { createVault, type Vault } from '../vault/index.ts';
import { answerRefusal } from './answers.ts';
import { purgeWithdrawn } from './retention.ts';
import { BrowserBindings } from './browser-binding.ts';
import { HeldPickups } from './held-pickups.ts';
import { LOCKED_TEXT, PickupGate, passwordCheck, recordEvent, type PickupEventKind } from './gate.ts';
import type { CreateInput, Credentials, OpenContext, MessageFacts, OpenedMessage, PartKind, PartView, PickupEvent, PickupStoreOptions, Verification } from './message-types.ts';
import { PartStorage } from './part-storage.ts';
import { collectText, HTML_LIMIT, openSealedBytes, openStream, partKey, toReadable } from './part-streams.ts';
import { PickupReplies } from './replies.ts';
import { sealSenderView } from './sender-view.ts';
import { SentMessages } from './sent-messages.ts';
import { ShareFiles } from './shares.ts';
import {
  PickupError, deriveSecretShare, isPickupError, isWellFormedPassword, newDataKey, newMessagePassword, newServerShare,
  openValue, replyPasswordKey, sealValue, subkey, unwrapDataKey, unwrapWithSecret, wrapDataKey,
} from './keys.ts';

/*
 * Pickup messages at rest, from creation through opening to withdrawal. Subject and file names
 * are sealed under the message's DEK; each part's content is a sealed stream (part-streams.ts)
 * kept where part-storage.ts puts it. Withdrawal destroys the server share (shares.ts).
 */

const DAY_MS = 86_400_000;
const ID = /^[A-Za-z0-9_-]{22}$/;
const WITHDRAWN = new Set(['retracted', 'expired', 'deleted']);

type MessageRow = Selectable<Database['pickup_messages']>;

export class PickupStore {
  readonly gate: PickupGate;
  readonly replies: PickupReplies;
  private readonly bindings: BrowserBindings;
  /** The sender's console view: lists, search, compositions and threads (sent-messages.ts). */
  readonly sent: SentMessages;
  /** The admin console's list: parties, times, state, opens; nothing sealed (held-pickups.ts). */
  readonly held: HeldPickups;
  private readonly store: Store;
  private readonly vault: Vault;
  private readonly sealedParts: PartStorage;
  private readonly shares: ShareFiles;
  private readonly clock: Clock;
  private readonly onOpened: PickupStoreOptions['onOpened'];
  /** Ids expired since the last `takeExpired()` (on time by the sweep, or late on an open). */
  private expiredIds: string[] = [];

  constructor(options: PickupStoreOptions) {
    this.store = options.store;
    this.vault = createVault(options.masterKey);
    this.sealedParts = new PartStorage(options.store, path.join(options.dataDir, 'pickup'), options.inlineLimit ?? 256 * 1024);
    this.shares = new ShareFiles(options.shareDir ?? path.join(options.dataDir, 'pickup-shares'));
    this.clock = options.clock ?? systemClock;
    this.onOpened = options.onOpened;
    this.gate = new PickupGate(options.store, subkey(options.masterKey, 'sealgate pickup code v1'), { clock: this.clock, ...options.gate });
    this.replies = new PickupReplies(this, options.store, this.vault, this.clock);
    this.bindings = new BrowserBindings(options.store, this.clock);
    this.sent = new SentMessages(options.store, this.shares, this.vault, this.clock);
    this.held = new HeldPickups(options.store, this.shares, this.clock);
  }

  /** Stores a message sealed; the message password is returned once and kept nowhere. */
  async create(input: CreateInput): Promise<{ id: string; messagePassword: string }> {
    const needsSecret = input.verification === 'passphrase' || input.verification === 'question';
    if (needsSecret && !input.passphraseOrAnswer?.trim()) throw new Error(`verification by ${input.verification} needs the sender's ${input.verification === 'question' ? 'answer' : 'passphrase'}`);
    if (input.verification === 'question' && !input.question?.trim()) throw new Error('verification by question needs the question to show the recipient');
    const refusal = input.verification === 'question' ? answerRefusal(input.passphraseOrAnswer!) : null;
    if (refusal) throw new Error(`verification by question: ${refusal}`);
    const days = input.expiresInDays ?? 30;
    if (!(days > 0 && days <= 3650)) throw new Error(`expiry of ${days} days is out of range: use 1 to 3650 days`);
    const id = randomBytes(16).toString('base64url');
    const messagePassword = newMessagePassword();
    const dek = newDataKey();
    const serverShare = newServerShare();
    const secretSalt = needsSecret ? randomBytes(16) : null;
    const secretShare = secretSalt ? await deriveSecretShare(input.passphraseOrAnswer!, secretSalt, input.verification === 'question' ? 'answer' : 'passphrase') : undefined;
    const now = this.clock.now();
    const parts: Insertable<Database['pickup_parts']>[] = [];
    const attachmentNames: string[] = [];
    try {
      let idx = 0;
      for await (const part of input.parts) {
        // HTML is sanitised once, here: what is sealed is already inert (mail/sanitize-html.ts).
        const content = part.kind === 'html' ? sanitizeEmailHtml((await collectText(part.content, HTML_LIMIT)).toString('utf8')).html : part.content;
        const stored = await this.sealedParts.put(id, idx, partKey(dek, id, idx), toReadable(content));
        parts.push({
          message_id: id, idx, kind: part.kind, content_type: part.contentType, ...stored,
          filename_sealed: part.filename === undefined ? null : sealValue(dek, Buffer.from(part.filename, 'utf8'), `${id}/${idx}/filename`),
        });
        if (part.kind === 'attachment') attachmentNames.push(part.filename ?? `attachment-${idx}`);
        idx++;
      }
      await this.shares.put(id, this.vault.seal(serverShare));
      await this.store.db.transaction().execute(async (trx) => {
        await trx.insertInto('pickup_messages').values({
          id, sender: input.sender, recipient: input.recipient,
          subject_sealed: sealValue(dek, Buffer.from(input.subject, 'utf8'), `${id}/subject`),
          created_at: now, expires_at: now + days * DAY_MS, state: 'active', verification: input.verification,
          question: input.verification === 'question' ? input.question!.trim() : null, secret_salt: secretSalt,
          wrapped_dek: wrapDataKey(dek, { serverShare, messagePassword, secretShare, messageId: id }),
          server_share_wrapped: null, failed_attempts: 0, opened_at: null, read_notice: input.readNotice ? 1 : 0,
          password_check: passwordCheck(serverShare, id, messagePassword),
          sender_view_sealed: sealSenderView(serverShare, id, { subject: input.subject, attachments: attachmentNames }),
          composition_id: input.composition ?? null, thread_id: input.thread ?? null,
        }).execute();
        if (parts.length) await trx.insertInto('pickup_parts').values(parts).execute();
        await trx.insertInto('pickup_events').values({ message_id: id, at: now, kind: 'created', ip: null, detail: `verification by ${input.verification}` }).execute();
      });
    } catch (error) {
      await this.sealedParts.remove(id).catch(() => undefined);
      await this.shares.destroy(id).catch(() => undefined);
      throw error;
    }
    return { id, messagePassword };
  }

  /**
   * Opens a message through the gate (gate.ts): the network's budget first, then the state,
   * then the message password (cheap; a wrong one costs only the network's budget), then the
   * message's own check (passphrase, answer, code), reserved on the message before Argon2.
   */
  async open(id: string, credentials: Credentials, context: OpenContext = {}): Promise<OpenedMessage> {
    const ip = context.ip ?? 'unknown';
    const ticket = await this.gate.takeAttempt(ip);
    // Constant statement text, not the query builder: this runs on every page view (see below).
    const row = ID.test(id) ? (await sql<MessageRow>`select * from pickup_messages where id = ${id}`.execute(this.store.db)).rows[0] : undefined;
    if (!row) throw new PickupError('not-found', 'No such message. Check that the link was copied whole from the notice e-mail.');
    if ((row.state === 'active' || row.state === 'locked') && row.expires_at <= this.clock.now()) {
      await this.destroy(id, 'expired');
      row.state = 'expired';
    }
    const sealedShare = WITHDRAWN.has(row.state) ? null : await this.shares.get(id);
    if (!sealedShare) throw new PickupError('withdrawn', 'This message has been withdrawn by the sender or has expired. Ask the sender to send it again.');
    if (row.state === 'locked') throw new PickupError('locked', LOCKED_TEXT);

    const serverShare = this.vault.open(sealedShare);
    const kind = row.verification === 'question' ? 'answer' : 'passphrase';
    const wrongPassword = () => new PickupError('wrong-credentials', 'The message password is not right. Copy it from the notice e-mail and try again.', 'password');
    let dek: Buffer | undefined;
    try {
      if (!isWellFormedPassword(credentials.password)) throw wrongPassword();
      // Without a secret share the password alone unwraps: that is its check. With one, the
      // stored check value tells a wrong password apart before any Argon2 work.
      if (!row.secret_salt) {
        try {
          dek = unwrapDataKey(Buffer.from(row.wrapped_dek), { serverShare, messagePassword: credentials.password, messageId: id });
        } catch (error) {
          throw isPickupError(error, 'wrong-credentials') ? wrongPassword() : error;
        }
      }
      else if (row.password_check && !timingSafeEqual(Buffer.from(row.password_check), passwordCheck(serverShare, id, credentials.password))) throw wrongPassword();
    } catch (error) {
      if (isPickupError(error, 'wrong-credentials')) await this.gate.wrongLink(id, ip);
      throw error;
    }
    // A browser other than the one(s) the message is bound to needs a fresh code from the
    // recipient's mailbox, whatever the verification: a forwarded notice alone does not open it.
    const binding = context.browser ? await this.bindings.state(id, row.bound_at, context.browser.binding) : 'not-a-browser';
    const newBrowser = binding === 'other-browser';
    const flag = (error: PickupError) => Object.assign(error, { newBrowser });
    if (newBrowser && row.verification !== 'code' && !credentials.code?.trim()) {
      await this.gate.refund(ticket);
      throw flag(new PickupError('code-required', 'This message was opened in another browser before. To open it in this one, enter the one-time code we e-mail to you.', 'code'));
    }
    const codeNeeded = row.verification === 'code' || newBrowser;
    if (row.verification !== 'link' || newBrowser) {
      await this.gate.reserveAttempt(id);
      try {
        // The code first: a browser without the recipient's mailbox learns nothing of the passphrase.
        if (codeNeeded) await this.gate.checkCode(id, credentials.code);
        if (row.secret_salt) {
          if (!credentials.secret?.trim()) throw new PickupError('wrong-credentials', `Enter the ${kind} the sender gave you.`, 'secret');
          try {
            dek = await unwrapWithSecret(Buffer.from(row.wrapped_dek), { serverShare, messagePassword: credentials.password, messageId: id }, credentials.secret, Buffer.from(row.secret_salt), kind);
          } catch (error) {
            // The password was checked already (when the row has a check value): the secret is wrong.
            if (row.password_check && isPickupError(error, 'wrong-credentials')) throw new PickupError('wrong-credentials', `The ${kind} is not right.`, 'secret');
            throw error;
          }
        }
      } catch (error) {
        if (!isPickupError(error, 'wrong-credentials')) {
          await this.gate.returnAttempt(id);
          if (isPickupError(error)) flag(error);
          throw error;
        }
        const left = await this.gate.checkFailed(id, ip);
        throw flag(new PickupError(left > 0 ? 'wrong-credentials' : 'locked', left > 0
          ? `${error.message} ${left} attempt${left === 1 ? '' : 's'} left before the message locks.`
          : 'That was the last attempt: the message is now locked. The sender can unlock it: ask them to, then open the link again.', error.field));
      }
      await this.gate.returnAttempt(id);
    }

    // Bind this browser: the first one by claiming the message, a new one after its fresh code.
    let token: string | null | undefined = context.browser?.binding;
    if (binding === 'not-a-browser') token = undefined;
    else if (binding === 'unbound') {
      token = await this.bindings.bindFirst(id);
      // Two first opens at once: the other browser was bound first, so this one needs a code too.
      if (!token && codeNeeded) token = await this.bindings.bindAnother(id);
      if (!token) {
        await this.gate.refund(ticket);
        throw Object.assign(new PickupError('code-required', 'This message was just opened in another browser. To open it in this one, enter the one-time code we e-mail to you.', 'code'), { newBrowser: true });
      }
    } else if (newBrowser) token = await this.bindings.bindAnother(id);
    else await this.bindings.touch(id, token!);
    if (codeNeeded) await this.gate.dropCode(id);

    await this.gate.refund(ticket);
    const now = this.clock.now();
    const first = await this.store.db.updateTable('pickup_messages').set({ opened_at: now }).where('id', '=', id).where('opened_at', 'is', null).executeTakeFirst();
    await recordEvent(this.store, id, 'opened', now, ip, newBrowser ? 'in a new browser, with a fresh code' : null);
    await this.onOpened?.({ id, sender: row.sender, recipient: row.recipient, compositionId: row.composition_id ?? null, at: now, ip, newBrowser });
    return { ...(await this.view(row, dek!, Number(first.numUpdatedRows) > 0)), binding: token!, newBrowser };
  }

  /** The message again within a recipient session, by the read key of an earlier `open`: no gate, no event. */
  async reopen(id: string, readKey: Buffer): Promise<OpenedMessage> {
    const row = await this.currentRow(id);
    if (!row) throw new PickupError('not-found', 'No such message. Check that the link was copied whole from the notice e-mail.');
    if (WITHDRAWN.has(row.state)) throw new PickupError('withdrawn', 'This message has been withdrawn by the sender or has expired. Ask the sender to send it again.');
    return this.view(row, readKey, false);
  }

  /** State, verification and question of a message, for the page that asks for credentials. */
  async describe(id: string): Promise<MessageFacts | undefined> {
    const row = await this.currentRow(id);
    if (!row) return undefined;
    return {
      id, sender: row.sender, recipient: row.recipient, state: row.state, verification: row.verification as Verification, question: row.question,
      createdAt: row.created_at, expiresAt: row.expires_at, openedAt: row.opened_at,
      attemptsLeft: Math.max(0, this.gate.maxFailures - row.failed_attempts),
    };
  }

  /** The message row with its state brought up to date: expired on time, withdrawn without a share. */
  private async currentRow(id: string): Promise<MessageRow | undefined> {
    // Constant statement text, not the query builder: this runs on every page view (see below).
    const row = ID.test(id) ? (await sql<MessageRow>`select * from pickup_messages where id = ${id}`.execute(this.store.db)).rows[0] : undefined;
    if (!row) return undefined;
    if ((row.state === 'active' || row.state === 'locked') && row.expires_at <= this.clock.now()) {
      await this.destroy(id, 'expired');
      row.state = 'expired';
    }
    // A row restored from a backup taken before retraction finds its share gone: withdrawn.
    if (!WITHDRAWN.has(row.state) && !(await this.shares.has(id))) row.state = 'retracted';
    return row;
  }

  private async view(row: MessageRow, dek: Buffer, firstOpen: boolean): Promise<OpenedMessage> {
    const id = row.id;
    let subject: string;
    try {
      subject = openValue(dek, Buffer.from(row.subject_sealed), `${id}/subject`).toString('utf8');
    } catch {
      throw new PickupError('wrong-credentials', 'This reading session does not fit the message. Open the link from the notice e-mail again.');
    }
    // A query-builder query is built and compiled again each time (~10 kB of V8 heap); the reading
    // page runs this one, currentRow's and the session's on every view (bench/README.md, portal).
    const { rows: partRows } = await sql<Selectable<Database['pickup_parts']>>`select * from pickup_parts where message_id = ${id} order by idx`.execute(this.store.db);
    const parts: PartView[] = partRows.map((p) => ({
      idx: p.idx, kind: p.kind as PartKind, contentType: p.content_type, size: Number(p.size),
      filename: p.filename_sealed ? openValue(dek, Buffer.from(p.filename_sealed), `${id}/${p.idx}/filename`).toString('utf8') : null,
    }));
    return {
      id, sender: row.sender, recipient: row.recipient, subject,
      createdAt: row.created_at, expiresAt: row.expires_at, firstOpen, readNotice: row.read_notice === 1, parts, readKey: dek,
      openPart: (idx) => {
        const part = partRows.find((p) => p.idx === idx);
        if (!part) throw new Error(`message ${id} has no part ${idx}`);
        const key = partKey(dek, id, idx);
        return part.external ? openStream(key, this.sealedParts.read(id, idx)) : openSealedBytes(key, Buffer.from(part.data ?? Buffer.alloc(0)));
      },
    };
  }

  /** The key sealing the passwords of replies to `id`; null once the message's share is destroyed. */
  async replyKey(id: string): Promise<Buffer | null> {
    const sealed = await this.shares.get(id);
    return sealed ? replyPasswordKey(this.vault.open(sealed), id) : null;
  }

  /** The sender takes the message back: the server share is destroyed with the content. */
  retract(id: string, ip: string | null = null): Promise<boolean> {
    return this.destroy(id, 'retracted', ip);
  }

  /** The recipient deletes the message after reading it. */
  deleteByRecipient(id: string, ip: string | null = null): Promise<boolean> {
    return this.destroy(id, 'deleted', ip);
  }

  /** Deletes shares left behind by a crash between a state change and the share's deletion. */
  async sweepShares(): Promise<number> {
    return this.shares.sweep(async (ids) => {
      // A share without a row may belong to a create still in flight: only withdrawn ones go.
      const rows = await this.store.db.selectFrom('pickup_messages').select(['id', 'state']).where('id', 'in', ids).execute();
      return rows.filter((row) => WITHDRAWN.has(row.state)).map((row) => row.id);
    });
  }

  /** Expires every message whose time has come; returns how many. */
  /** Retention: withdrawn pickups that ended before `before` (ms), metadata and access log. */
  purgeWithdrawn(before: number, onPurged?: (ids: string[]) => Promise<unknown>): Promise<number> {
    return purgeWithdrawn(this.store, before, onPurged);
  }

  async expire(now = this.clock.now()): Promise<number> {
    const due = await this.store.db.selectFrom('pickup_messages').select('id').where('state', 'in', ['active', 'locked']).where('expires_at', '<=', now).execute();
    let count = 0;
    for (const { id } of due) if (await this.destroy(id, 'expired')) count++;
    return count;
  }

  /**
   * The messages expired since the last call, for the audit chain's `message.expired` (one
   * batch per housekeeping sweep rather than a chain write per message).
   */
  takeExpired(): string[] {
    return this.expiredIds.splice(0);
  }

  async changeExpiry(id: string, expiresAt: number, ip: string | null = null): Promise<void> {
    const now = this.clock.now();
    if (expiresAt <= now) throw new Error('the new expiry is in the past: to end a message now, retract it');
    const result = await this.store.db.updateTable('pickup_messages').set({ expires_at: expiresAt }).where('id', '=', id).where('state', 'in', ['active', 'locked']).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new PickupError('withdrawn', `message ${id} is withdrawn or unknown; its expiry cannot change`);
    await recordEvent(this.store, id, 'expiry-changed', now, ip, new Date(expiresAt).toISOString());
  }

  /** For the web tier: notices sent, downloads, replies. */
  recordEvent(id: string, kind: PickupEventKind, ip: string | null = null, detail: string | null = null): Promise<void> {
    return recordEvent(this.store, id, kind, this.clock.now(), ip, detail);
  }

  async events(id: string): Promise<PickupEvent[]> {
    const rows = await this.store.db.selectFrom('pickup_events').select(['at', 'kind', 'ip', 'detail']).where('message_id', '=', id).orderBy('id').execute();
    return rows.map((r) => ({ at: r.at, kind: r.kind as PickupEventKind, ip: r.ip, detail: r.detail }));
  }

  /** The sender's list: state and times only (the subject is sealed under the message's DEK). */
  async listBySender(sender: string): Promise<{ id: string; recipient: string; state: string; verification: Verification; createdAt: number; expiresAt: number; openedAt: number | null }[]> {
    const rows = await this.store.db.selectFrom('pickup_messages')
      .select(['id', 'recipient', 'state', 'verification', 'created_at', 'expires_at', 'opened_at'])
      .where('sender', '=', sender).orderBy('created_at', 'desc').execute();
    return rows.map((r) => ({ id: r.id, recipient: r.recipient, state: r.state, verification: r.verification as Verification, createdAt: r.created_at, expiresAt: r.expires_at, openedAt: r.opened_at }));
  }

  /** Crypto-shredding: the server share goes, and with it every way to the DEK; content goes too. */
  private async destroy(id: string, state: 'retracted' | 'expired' | 'deleted', ip: string | null = null): Promise<boolean> {
    const result = await this.store.db.updateTable('pickup_messages').set({ state, server_share_wrapped: null, sender_view_sealed: null })
      .where('id', '=', id).where('state', 'in', ['active', 'locked']).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await this.shares.destroy(id);
    await this.store.db.updateTable('pickup_parts').set({ data: null }).where('message_id', '=', id).execute();
    await this.gate.dropCode(id);
    await this.bindings.drop(id);
    await this.sealedParts.remove(id);
    await recordEvent(this.store, id, state, this.clock.now(), ip);
    if (state === 'expired') this.expiredIds.push(id);
    // Replies go with the message they answer: their passwords were sealed under its share.
    const replies = await this.store.db.selectFrom('pickup_replies').select('reply_id').where('message_id', '=', id).execute();
    for (const reply of replies) await this.destroy(reply.reply_id, state, ip);
    this.store.scrub?.();
    return true;
  }
}
