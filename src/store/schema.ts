import type { Generated, Kysely } from 'kysely';

/** Row types shared by both dialects. Times are epoch milliseconds. */
export interface MessagesTable {
  id: string;
  mail_from: string;
  /** JSON: the kernel Envelope minus recipients. */
  envelope: string;
  size: number;
  /** Id of the encrypted body file, when the body is too large to sit in the row. */
  blob: string | null;
  /** The encrypted body itself (vault format), for small messages. */
  body: Buffer | null;
  created_at: number;
  delay_notice_sent: number;
  done_at: number | null;
}

export interface RecipientsTable {
  id: Generated<number>;
  message_id: string;
  address: string;
  domain: string;
  notify: string | null;
  orcpt: string | null;
  /** queued | delivered | failed */
  state: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_reply: string | null;
  updated_at: number;
}

export interface ReceiptsTable {
  id: Generated<number>;
  message_id: string;
  recipient_id: number;
  at: number;
  mx_host: string | null;
  ip: string | null;
  port: number | null;
  tls_version: string | null;
  cipher: string | null;
  cert_subject: string | null;
  cert_verified: number;
  reply: string;
  outcome: string;
}

export interface UsersTable {
  username: string;
  password_hash: string;
  created_at: number;
  disabled: number;
}

export interface LinkSecurityTable {
  domain: string;
  mx_host: string;
  ip: string | null;
  starttls: number;
  tls_version: string | null;
  cipher: string | null;
  cert_subject: string | null;
  cert_valid: number;
  cert_error: string | null;
  requiretls: number;
  error: string | null;
  level: string;
  seen_at: number;
  expires_at: number;
}

export interface MessageChunksTable {
  message_id: string;
  seq: number;
  data: Buffer;
  created_at: number;
}

export interface Database {
  message_chunks: MessageChunksTable;
  link_security: LinkSecurityTable;
  messages: MessagesTable;
  recipients: RecipientsTable;
  receipts: ReceiptsTable;
  users: UsersTable;
}

export type Db = Kysely<Database>;

/**
 * Engine differences live here and nowhere else (Kysely's DialectAdapter.supports* idea).
 */
export interface StoreCapabilities {
  dialect: 'sqlite' | 'postgres';
  /** `FOR UPDATE SKIP LOCKED` for concurrent lease takers across nodes. */
  skipLocked: boolean;
  /** Large bodies in the database (shared by every node) rather than in local files. */
  bodiesInDatabase: boolean;
  /** Type of an auto-increment integer key in DDL. */
  serialType: 'integer' | 'serial';
}

export interface Store {
  db: Db;
  capabilities: StoreCapabilities;
  close(): Promise<void>;
}
