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
    '0005-mta-sts': {
      // Cached MTA-STS policies (RFC 8461 §5.1): a sender keeps applying one until it expires.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('mta_sts_policies')
          .addColumn('domain', 'text', (c) => c.primaryKey())
          .addColumn('policy_id', 'text', (c) => c.notNull())
          .addColumn('mode', 'text', (c) => c.notNull())
          .addColumn('mx', 'text', (c) => c.notNull())
          .addColumn('max_age', bigint, (c) => c.notNull())
          .addColumn('fetched_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
    '0006-pickup': {
      // Secure Message Pickup (docs/architecture.md §5): everything readable is sealed under the message's DEK.
      async up(db: Kysely<any>) {
        const blob = capabilities.dialect === 'sqlite' ? 'blob' : 'bytea';
        await db.schema
          .createTable('pickup_messages')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('sender', 'text', (c) => c.notNull())
          .addColumn('recipient', 'text', (c) => c.notNull())
          .addColumn('subject_sealed', blob, (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('verification', 'text', (c) => c.notNull())
          .addColumn('question', 'text')
          .addColumn('secret_salt', blob)
          .addColumn('wrapped_dek', blob, (c) => c.notNull())
          .addColumn('server_share_wrapped', blob)
          .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('opened_at', bigint)
          .addColumn('read_notice', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.createIndex('pickup_messages_sender').on('pickup_messages').columns(['sender', 'created_at']).execute();
        await db.schema.createIndex('pickup_messages_expiry').on('pickup_messages').columns(['state', 'expires_at']).execute();
        await db.schema
          .createTable('pickup_parts')
          .addColumn('message_id', 'text', (c) => c.notNull().references('pickup_messages.id').onDelete('cascade'))
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('filename_sealed', blob)
          .addColumn('content_type', 'text', (c) => c.notNull())
          .addColumn('size', bigint, (c) => c.notNull())
          .addColumn('data', blob)
          .addColumn('external', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('pickup_parts_pk', ['message_id', 'idx'])
          .execute();
        await db.schema
          .createTable('pickup_chunks')
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('idx', 'integer', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('data', blob, (c) => c.notNull())
          .addPrimaryKeyConstraint('pickup_chunks_pk', ['message_id', 'idx', 'seq'])
          .execute();
        await db.schema
          .createTable('pickup_events')
          .addColumn('id', capabilities.serialType, (c) =>
            capabilities.dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('at', bigint, (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('ip', 'text')
          .addColumn('detail', 'text')
          .execute();
        await db.schema.createIndex('pickup_events_message').on('pickup_events').columns(['message_id', 'id']).execute();
        await db.schema
          .createTable('pickup_codes')
          .addColumn('message_id', 'text', (c) => c.primaryKey())
          .addColumn('code_hash', blob, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
    },
    '0007-settings': {
      // Node-wide facts every cluster node must agree on (e.g. the master key check value).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('settings')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0008-tlsrpt': {
      // TLS-RPT (RFC 8460) daily counters; upserts with `count = count + 1` so nodes count concurrently.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('tlsrpt_counts')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('policy_domain', 'text', (c) => c.notNull())
          .addColumn('policy_type', 'text', (c) => c.notNull())
          .addColumn('policy_hash', 'text', (c) => c.notNull())
          .addColumn('mx_host', 'text', (c) => c.notNull())
          .addColumn('policy_string', 'text', (c) => c.notNull())
          .addColumn('success_count', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('failure_count', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('tlsrpt_counts_pk', ['day', 'policy_domain', 'policy_type', 'policy_hash', 'mx_host'])
          .execute();
        await db.schema
          .createTable('tlsrpt_failures')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('policy_domain', 'text', (c) => c.notNull())
          .addColumn('policy_type', 'text', (c) => c.notNull())
          .addColumn('policy_hash', 'text', (c) => c.notNull())
          .addColumn('mx_host', 'text', (c) => c.notNull())
          .addColumn('result_type', 'text', (c) => c.notNull())
          .addColumn('sending_ip', 'text', (c) => c.notNull())
          .addColumn('receiving_mx', 'text', (c) => c.notNull())
          .addColumn('receiving_ip', 'text', (c) => c.notNull())
          .addColumn('reason_code', 'text')
          .addColumn('count', 'integer', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('tlsrpt_failures_pk', ['day', 'policy_domain', 'policy_type', 'policy_hash', 'mx_host', 'result_type', 'sending_ip', 'receiving_mx', 'receiving_ip'])
          .execute();
        await db.schema
          .createTable('tlsrpt_sent')
          .addColumn('day', 'text', (c) => c.notNull())
          .addColumn('policy_domain', 'text', (c) => c.notNull())
          .addColumn('sent_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('tlsrpt_sent_pk', ['day', 'policy_domain'])
          .execute();
      },
    },
    '0009-link-requirements': {
      // What DANE and MTA-STS showed per MX, admin pins per domain, and per-user requirements.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('link_security').addColumn('mta_sts', 'text').execute();
        await db.schema.alterTable('link_security').addColumn('dane', 'text').execute();
        await db.schema.alterTable('users').addColumn('required_level', 'text').execute();
        await db.schema
          .createTable('link_pins')
          .addColumn('domain', 'text', (c) => c.primaryKey())
          .addColumn('min_level', 'text', (c) => c.notNull())
          .addColumn('note', 'text')
          .addColumn('created_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
    '0010-web-sessions': {
      // Portal sessions live in the database so any cluster node serves any request; the id
      // is a hash of the cookie's token, so a database copy holds no usable session. Replies
      // from recipients are pickup messages of their own, linked here to the one they answer.
      async up(db: Kysely<any>) {
        const blob = capabilities.dialect === 'sqlite' ? 'blob' : 'bytea';
        await db.schema
          .createTable('web_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('sealed', blob)
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('last_seen_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('web_sessions_seen').on('web_sessions').columns(['last_seen_at']).execute();
        await db.schema
          .createTable('pickup_replies')
          .addColumn('reply_id', 'text', (c) => c.primaryKey())
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('password_sealed', blob, (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('pickup_replies_message').on('pickup_replies').columns(['message_id', 'created_at']).execute();
      },
    },
    '0011-user-pickup': {
      // A user whose every message becomes a Secure Message Pickup (`sealgate user pickup`).
      async up(db: Kysely<any>) {
        await db.schema.alterTable('users').addColumn('pickup_always', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
    '0012-user-aliases': {
      // Sender addresses a user may use besides their own (`sealgate user alias`): a full
      // address, or `@domain` for every address of a domain (Postfix smtpd_sender_login_maps).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('user_aliases')
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('user_aliases_pk', ['username', 'address'])
          .execute();
        await db.schema.createIndex('user_aliases_address').on('user_aliases').columns(['address']).execute();
      },
    },
    '0013-login-budgets': {
      // Attempt budgets shared by every protocol and node (src/accounts/login-budget.ts);
      // one-time codes kept side by side (a new code leaves an unexpired one valid); the check
      // value of a message password (tells a wrong link from a wrong passphrase cheaply).
      async up(db: Kysely<any>) {
        const blob = capabilities.dialect === 'sqlite' ? 'blob' : 'bytea';
        await db.schema
          .createTable('login_budgets')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('failures', 'integer', (c) => c.notNull())
          .addColumn('window_start', bigint, (c) => c.notNull())
          .addColumn('next_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('login_budgets_expiry').on('login_budgets').columns(['expires_at']).execute();
        await db.schema
          .createTable('pickup_code_issues')
          .addColumn('id', capabilities.serialType, (c) =>
            capabilities.dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
          )
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('code_hash', blob, (c) => c.notNull())
          .addColumn('issued_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('pickup_code_issues_message').on('pickup_code_issues').columns(['message_id', 'expires_at']).execute();
        await db.schema.alterTable('pickup_messages').addColumn('password_check', blob).execute();
        await db.schema.dropTable('pickup_codes').execute();
      },
    },
    '0015-lease-tokens': {
      // A lease is named by a token and holds its recipients in state `leased`: a settle
      // changes only rows still held by its token (issue 9, items 2 and 3). Leases of the
      // old kind (state `queued` with a lease_until) belonged to nodes stopped for this
      // upgrade: they are void.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('recipients').addColumn('lease_token', 'text').execute();
        await db.updateTable('recipients').set({ lease_owner: null, lease_until: null }).where('state', '=', 'queued').execute();
        await db.schema.createIndex('recipients_lease').on('recipients').columns(['state', 'lease_until']).execute();
      },
    },
    '0016-message-keys': {
      // Each queued body has its own data key, destroyed when the message is done
      // (crypto-shredding). SQLite keeps the keys as files; this table serves PostgreSQL
      // clusters without a shared key folder (store/key-files.ts says what deletion means there).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('message_keys')
          .addColumn('message_id', 'text', (c) => c.primaryKey())
          .addColumn('sealed', capabilities.dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
    '0018-browser-bindings': {
      // Each recipient copy is bound to the browsers that opened it (issue 10 item 3,
      // src/pickup/browser-binding.ts): only a hash of each browser's cookie token is kept;
      // `bound_at` is claimed once, by the first browser. Both only add: an older node ignores them.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('pickup_bindings')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('message_id', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('last_used_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('pickup_bindings_message').on('pickup_bindings').columns(['message_id']).execute();
        await db.schema.alterTable('pickup_messages').addColumn('bound_at', bigint).execute();
      },
    },
    '0019-sender-view': {
      // What the sender's console shows of a pickup (subject, attachment names), sealed under a
      // key derived from the message's server share, so retraction destroys it too (issue 10
      // item 7); the composition a message was sent in (one row per composed message) and the
      // thread it continues (a sender's "Reply" to a secure reply). All nullable: older rows
      // have no sender view, and nodes of the previous release write none.
      async up(db: Kysely<any>) {
        const blob = capabilities.dialect === 'sqlite' ? 'blob' : 'bytea';
        await db.schema.alterTable('pickup_messages').addColumn('sender_view_sealed', blob).execute();
        await db.schema.alterTable('pickup_messages').addColumn('composition_id', 'text').execute();
        await db.schema.alterTable('pickup_messages').addColumn('thread_id', 'text').execute();
        await db.schema.createIndex('pickup_messages_thread').on('pickup_messages').columns(['thread_id']).execute();
        await db.schema.createIndex('pickup_messages_composition').on('pickup_messages').columns(['composition_id']).execute();
      },
    },
    '0021-queue-hold': {
      // `queue hold` (Postfix postsuper -h): a held recipient keeps its state and schedule but
      // is not leased until `queue release` clears the mark. Nullable: older rows are not held.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('recipients').addColumn('held_at', bigint).execute();
      },
    },
    '0025-audit': {
      // The audit chain (issue 13): `seq` as the primary key is what keeps one chain across
      // nodes (two writers of the same seq: one insert fails and links to the new head).
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('audit_events')
          .addColumn('seq', bigint, (c) => c.primaryKey())
          .addColumn('at', bigint, (c) => c.notNull())
          .addColumn('node', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('ip', 'text')
          .addColumn('protocol', 'text')
          .addColumn('detail', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at']).execute();
        await db.schema.createIndex('audit_events_target').on('audit_events').columns(['target']).execute();
        await db.schema
          .createTable('audit_checkpoints')
          .addColumn('seq', bigint, (c) => c.primaryKey())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('at', bigint, (c) => c.notNull())
          .addColumn('signature', 'text', (c) => c.notNull())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0026-accounts': {
      // Roles, second factors, app passwords, the admin lock, session details (issue 13). Every existing
      // user keeps sending: each becomes a `sender`.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('user_roles')
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('granted_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('user_roles_pk', ['username', 'role'])
          .execute();
        await db.insertInto('user_roles').columns(['username', 'role', 'granted_at']).expression((eb: any) => eb.selectFrom('users').select(['username', eb.val('sender').as('role'), 'created_at'])).execute();
        await db.schema
          .createTable('user_totp')
          .addColumn('username', 'text', (c) => c.primaryKey())
          .addColumn('secret', 'text', (c) => c.notNull())
          .addColumn('enabled_at', bigint)
          .addColumn('last_step', bigint)
          .execute();
        await db.schema
          .createTable('user_recovery_codes')
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('code_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('used_at', bigint)
          .addPrimaryKeyConstraint('user_recovery_codes_pk', ['username', 'code_hash'])
          .execute();
        await db.schema
          .createTable('app_passwords')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('label', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('last_used_at', bigint)
          .execute();
        await db.schema.createIndex('app_passwords_user').on('app_passwords').column('username').execute();
        await db.schema.alterTable('users').addColumn('locked_at', bigint).execute();
        // Sessions as the console lists them, and an idle limit per session (per role).
        await db.schema.alterTable('web_sessions').addColumn('idle_ms', bigint).execute();
        await db.schema.alterTable('web_sessions').addColumn('ip', 'text').execute();
        await db.schema.alterTable('web_sessions').addColumn('user_agent', 'text').execute();
        // Jobs that run once across a cluster (retention purge): who started each last, and when.
        await db.schema
          .createTable('scheduled_jobs')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('last_started_at', bigint, (c) => c.notNull())
          .addColumn('owner', 'text')
          .execute();
      },
    },
    '0027-e2e-keys': {
      // End-to-end keys (issue 11, src/e2e/keystore): our users' keys, private parts sealed
      // under the vault (never in the clear); correspondents' keys with where each came from and
      // until when it is trusted; Autocrypt Level 1 peer state; cached discovery answers. All
      // new tables: a node of the previous release never reads them.
      async up(db: Kysely<any>) {
        const blob = capabilities.dialect === 'sqlite' ? 'blob' : 'bytea';
        const serialKey = (c: any) => (capabilities.dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey());
        await db.schema
          .createTable('e2e_user_keys')
          .addColumn('id', capabilities.serialType, serialKey)
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('public_data', blob, (c) => c.notNull())
          .addColumn('private_sealed', blob, (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint)
          .addColumn('revoked_at', bigint)
          .addUniqueConstraint('e2e_user_keys_fingerprint', ['kind', 'fingerprint'])
          .execute();
        await db.schema.createIndex('e2e_user_keys_address').on('e2e_user_keys').columns(['address']).execute();
        await db.schema
          .createTable('e2e_peer_keys')
          .addColumn('id', capabilities.serialType, serialKey)
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('data', blob, (c) => c.notNull())
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('key_created_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint)
          .addColumn('first_seen', bigint, (c) => c.notNull())
          .addColumn('last_seen', bigint, (c) => c.notNull())
          .addColumn('trusted_until', bigint)
          .addColumn('state', 'text', (c) => c.notNull())
          .addUniqueConstraint('e2e_peer_keys_one', ['kind', 'address', 'fingerprint', 'source'])
          .execute();
        await db.schema.createIndex('e2e_peer_keys_address').on('e2e_peer_keys').columns(['address', 'kind']).execute();
        await db.schema
          .createTable('e2e_autocrypt_peers')
          .addColumn('address', 'text', (c) => c.primaryKey())
          .addColumn('last_seen', bigint, (c) => c.notNull())
          .addColumn('autocrypt_timestamp', bigint)
          .addColumn('public_key', blob)
          .addColumn('prefer_encrypt', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('e2e_discovery_cache')
          .addColumn('lookup', 'text', (c) => c.primaryKey())
          .addColumn('result', blob)
          .addColumn('detail', 'text', (c) => c.notNull())
          .addColumn('fetched_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
      },
    },
    '0031-break-glass': {
      // The emergency access credential (issue 13): only its Argon2id hash; one-time, so a row
      // records when and from where it was used. A new table: older nodes never read it.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('break_glass_credentials')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('secret_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('used_at', bigint)
          .addColumn('used_ip', 'text')
          .addColumn('replaced_at', bigint)
          .execute();
      },
    },
    '0028-receipt-route': {
      // Issue 11: each receipt says the route its recipient got (end to end, link, pickup) and
      // why. Nullable columns: a node of the previous release writes receipts without them.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('receipts').addColumn('route', 'text').execute();
        await db.schema.alterTable('receipts').addColumn('route_reason', 'text').execute();
      },
    },
    '0029-e2e-replay': {
      // Inbound signed mail seen (issue 11, src/e2e/replay.ts): one row per signer + Message-ID +
      // signing time, as a hash; the primary key makes "seen before?" one atomic insert, so two
      // copies arriving at once still flag one. A new table only.
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('e2e_replay_seen')
          .addColumn('digest', 'text', (c) => c.primaryKey())
          .addColumn('seen_at', bigint, (c) => c.notNull())
          .addColumn('expires_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema.createIndex('e2e_replay_seen_expiry').on('e2e_replay_seen').columns(['expires_at']).execute();
      },
    },
    '0030-dkim-keys': {
      // Outbound DKIM keys per domain (auth/keys.ts); the private half sealed under the master
      // key. A new table: a node of the previous release never reads it.
      async up(db: Kysely<any>) {
        const blob = capabilities.dialect === 'sqlite' ? 'blob' : 'bytea';
        await db.schema
          .createTable('dkim_keys')
          .addColumn('domain', 'text', (c) => c.notNull())
          .addColumn('selector', 'text', (c) => c.notNull())
          .addColumn('algorithm', 'text', (c) => c.notNull())
          .addColumn('private_sealed', blob, (c) => c.notNull())
          .addColumn('public_key', 'text', (c) => c.notNull())
          .addColumn('created_at', bigint, (c) => c.notNull())
          .addColumn('retired_at', bigint)
          .addPrimaryKeyConstraint('dkim_keys_pk', ['domain', 'selector'])
          .execute();
      },
    },
    '0033-user-anonymous': {
      // Anonymous submission per user (`sealgate user anonymous`, issue 12). A column with a
      // default: a node of the previous release neither reads nor needs it.
      async up(db: Kysely<any>) {
        await db.schema.alterTable('users').addColumn('anonymous', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      },
    },
    '0034-receipt-signatures': {
      // Signed proof of delivery (issue 12): the digests, the envelope (so `trace` finds a receipt
      // after retention removed its message), and the signed receipt with its signature.
      // Nullable columns: a node of the previous release writes receipts without them.
      async up(db: Kysely<any>) {
        for (const column of ['message_sha256', 'cert_fingerprint', 'mail_from', 'recipient', 'signed', 'signature']) {
          await db.schema.alterTable('receipts').addColumn(column, 'text').execute();
        }
        await db.schema.createIndex('receipts_at').on('receipts').column('at').execute();
      },
    },
  };
}

export function migrationProvider(capabilities: StoreCapabilities): MigrationProvider {
  return { getMigrations: async () => migrations(capabilities) };
}
