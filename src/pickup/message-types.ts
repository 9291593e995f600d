import type { Readable } from 'node:stream';
import type { Clock } from '../kernel/index.ts';
import type { Store } from '../store/index.ts';
import type { GateOptions, PickupEventKind } from './gate.ts';

/* The shapes of pickup messages as callers of the sealed store see them (sealed-store.ts). */

export type Verification = 'link' | 'passphrase' | 'question' | 'code';
export type PartKind = 'text' | 'html' | 'attachment';

export interface PartInput {
  kind: PartKind;
  contentType: string;
  filename?: string;
  content: Buffer | string | Readable;
}

export interface CreateInput {
  sender: string;
  recipient: string;
  subject: string;
  /** Parts are stored in order as they come; an async iterable lets uploads stream straight in. */
  parts: PartInput[] | AsyncIterable<PartInput>;
  verification: Verification;
  /** The sender's passphrase, or the answer to `question`. */
  passphraseOrAnswer?: string;
  question?: string;
  expiresInDays?: number;
  readNotice?: boolean;
  /** Messages made by one compose (or one submitted message) share this: the console shows them as one row. */
  composition?: string;
  /** The first message of the thread this one continues (the sender's reply to a secure reply). */
  thread?: string;
}

export interface Credentials {
  password: string;
  /** Passphrase or answer, when the message has one. */
  secret?: string;
  /** One-time code, when the message is verified by code. */
  code?: string;
}

/** Who asks to open a message. */
export interface OpenContext {
  ip?: string;
  /**
   * Set for an open from a browser (the portal): the message is bound to the first browser and
   * any other needs a fresh code (browser-binding.ts); `binding` is this browser's cookie token.
   * Callers that are no browser (tests, tools) leave it out.
   */
  browser?: { binding?: string };
}

export interface PartView {
  idx: number;
  kind: PartKind;
  filename: string | null;
  contentType: string;
  size: number;
}

export interface OpenedMessage {
  id: string;
  sender: string;
  recipient: string;
  subject: string;
  createdAt: number;
  expiresAt: number;
  /** True on the first successful open (when a read notice is due, if `readNotice`). */
  firstOpen: boolean;
  readNotice: boolean;
  parts: PartView[];
  /**
   * The message's data key, for `reopen` within a recipient session. Keep it only sealed under
   * a secret the recipient holds (the web tier seals it under the session cookie's token).
   */
  readKey: Buffer;
  /** The part's plaintext, decrypted as it is read. */
  openPart(idx: number): Readable;
  /**
   * After `open`: this browser's binding token (browser-binding.ts), for its cookie; a new one
   * when this open bound the browser. Empty after `reopen`.
   */
  binding?: string;
  /** After `open`: opened from a browser the message was not bound to (with a fresh code). */
  newBrowser?: boolean;
}

/** What a page shows before the recipient proves anything: no sealed content. */
export interface MessageFacts {
  id: string;
  sender: string;
  recipient: string;
  /** active | locked | retracted | expired | deleted (expired already when its time has passed). */
  state: string;
  verification: Verification;
  question: string | null;
  createdAt: number;
  expiresAt: number;
  openedAt: number | null;
  /** Checks of the passphrase, answer or code left before the message locks. */
  attemptsLeft: number;
}

export interface PickupEvent {
  at: number;
  kind: PickupEventKind;
  ip: string | null;
  detail: string | null;
}

export interface PickupStoreOptions {
  store: Store;
  masterKey: Buffer;
  dataDir: string;
  clock?: Clock;
  gate?: GateOptions;
  /** Sealed parts up to this size stay in the row. */
  inlineLimit?: number;
  /** Where server shares live, outside the database; default `<dataDir>/pickup-shares`. */
  shareDir?: string;
  /** Told of every open after it is recorded (the signed `pickup-opened` receipt); must not throw. */
  onOpened?: (opened: PickupOpened) => Promise<void>;
}

/** One open of a pickup, as its signed receipt records it. */
export interface PickupOpened {
  id: string;
  sender: string;
  recipient: string;
  /** `smtp-<queue ID>` for a submitted message held for pickup; other forms for the console's. */
  compositionId: string | null;
  at: number;
  ip: string;
  newBrowser: boolean;
}
