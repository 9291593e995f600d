import type { DeliveryReceipt, DsnNotify, Envelope } from '../kernel/index.ts';

export type StoredEnvelope = Omit<Envelope, 'recipients'>;

export interface QueuedRecipient {
  id: number;
  address: string;
  domain: string;
  notify?: DsnNotify[];
  orcpt?: string;
  attempts: number;
}

/** Names a lease: a settle or renewal must present it. */
export interface LeaseRef {
  owner: string;
  token: string;
}

/** Recipients of one message for one domain, leased together: one SMTP transaction. */
export interface LeasedGroup {
  lease: LeaseRef;
  messageId: string;
  domain: string;
  envelope: StoredEnvelope;
  size: number;
  /** On this process's clock (converted from the database's at lease time). */
  createdAt: number;
  delayNoticeSent: boolean;
  /** The encrypted body when it sits in the row (read with the lease: no second query). */
  storedBody: Buffer | null;
  recipients: QueuedRecipient[];
}

export interface Settlement {
  recipientId: number;
  state: 'delivered' | 'failed' | 'queued';
  reply: string;
  /** Required when state is 'queued'; on this process's clock (stored on the database's). */
  nextAttemptAt?: number;
  receipt?: DeliveryReceipt;
}

export interface MessageSummary {
  id: string;
  mailFrom: string;
  size: number;
  createdAt: number;
  /** `held`: put on hold by `queue hold`, not tried until released. */
  recipients: { id: number; address: string; state: string; attempts: number; nextAttemptAt: number; lastReply: string | null; held?: boolean }[];
}

export interface MessageDetail extends MessageSummary {
  envelope: StoredEnvelope;
  receipts: DeliveryReceipt[];
}
