import type { Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { StoreCapabilities } from '../schema.ts';

/** One set of migrations for both engines; only capability flags differ. */
function migrations(capabilities: StoreCapabilities): Record<string, Migration> {
  const bigint = 'bigint' as const;
  return {
    '0001-queue': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('messages')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('mail_from', 'text', (c) => c.notNull())
          .addColumn('envelope', 'text', (c) => c.notNull())
          .addColumn('size', bigint, (c) => c.notNull())
          .addColumn('blob', 'text')
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('delay_notice_sent', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('done_at', bigint)
          .execute();
        await db.schema
          .createTable('recipients')
          .addColumn('id', capabilities.serialType, (c) =>
            capabilities.dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('domain', 'text', (c) => c.notNull())
          .addColumn('notify', 'text')
          .addColumn('orcpt', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', bigint, (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_until', bigint)
          .addColumn('last_reply', 'text')
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('recipients_due').on('recipients').columns(['state', 'next_attempt_at']).execute();
        await db.schema.createIndex('recipients_message').on('recipients').column('message_id').execute();
        await db.schema
          .createTable('receipts')
          .addColumn('id', capabilities.serialType, (c) =>
            capabilities.dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('recipient_id', 'integer', (c) => c.notNull())
          .addColumn('at', bigint, (c) => c.notNull())
          .addColumn('mx_host', 'text')
          .addColumn('ip', 'text')
          .addColumn('port', 'integer')
          .addColumn('tls_version', 'text')
          .addColumn('cipher', 'text')
          .addColumn('cert_subject', 'text')
          .addColumn('cert_verified', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('reply', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('receipts_message').on('receipts').column('message_id').execute();
        await db.schema
          .createTable('users')
          .addColumn('username', 'text', (c) => c.primaryKey())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0002-inline-bodies': {
      // Small bodies (still encrypted) live in the row: one commit instead of file,
      // fsync, rename and directory fsync per message.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('messages').addColumn('body', capabilities.dialect === 'sqlite' ? 'blob' : 'bytea').execute();
      },
    },
    '0003-link-security': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('link_security')
          .addColumn('domain', 'text', (c) => c.notNull())
          .addColumn('mx_host', 'text', (c) => c.notNull())
          .addColumn('ip', 'text')
          .addColumn('starttls', 'integer', (c) => c.notNull())
          .addColumn('tls_version', 'text')
          .addColumn('cipher', 'text')
          .addColumn('cert_subject', 'text')
          .addColumn('cert_valid', 'integer', (c) => c.notNull())
          .addColumn('cert_error', 'text')
          .addColumn('requiretls', 'integer', (c) => c.notNull())
          .addColumn('error', 'text')
          .addColumn('level', 'text', (c) => c.notNull())
          .addColumn('seen_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('link_security_pk', ['domain', 'mx_host'])
          .execute();
      },
    },
    '0004-message-chunks': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('message_chunks')
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('data', capabilities.dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('message_chunks_pk', ['message_id', 'seq'])
          .execute();
      },
    },
  };
}

export function migrationProvider(capabilities: StoreCapabilities): MigrationProvider {
  return { getMigrations: async () => migrations(capabilities) };
}
