import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from './logger.ts';
import { Users } from './accounts/index.ts';
import { masterKeyPath, storeUrl, type Config } from './config/index.ts';
import { systemClock, type Clock, type Logger } from './kernel/index.ts';
import { BODY_KEY_BYTES, MESSAGE_ID_LENGTH, Queue, type IntakeCommit } from './queue/index.ts';
import { PickupStore, type PickupOpened } from './pickup/index.ts';
import { openBlobStore, openDatabaseBlobStore, openDatabaseKeyStore, openKeyFiles, type BlobStore, type Store } from './store/index.ts';
import { openSqliteStore } from './store/sqlite/index.ts';
import { createMasterKey, createVault, loadMasterKey, MasterKeyError, type Vault } from './vault/index.ts';
import { AuditLog, auditSigner, fileWitness, receiptSigner, type ReceiptSigner } from './audit/index.ts';

/** Everything a command needs, built from one config. The only place that picks a store. */
export interface Runtime {
  config: Config;
  /** Secure Message Pickup: sealed messages, gate, replies. */
  pickup: PickupStore;
  logger: Logger;
  clock: Clock;
  store: Store;
  blobs: BlobStore;
  vault: Vault;
  queue: Queue;
  users: Users;
  /** The hash-chained audit log (one chain for every node of a cluster). */
  audit: AuditLog;
  /** Signs proof-of-delivery receipts (`sealgate receipt key` publishes its public half). */
  receiptSigner: ReceiptSigner;
  nodeId: string;
  close(): Promise<void>;
}

export { createLogger };

export interface OpenStoreOptions {
  /** Names this node's database connections (PostgreSQL `application_name`). */
  nodeId?: string;
  logger?: Logger;
  /** Runs before migrations: a node that must not start changes nothing (PostgreSQL). */
  beforeMigrate?: (store: Store) => Promise<void>;
}

export async function openStore(config: Config, options: OpenStoreOptions = {}): Promise<Store> {
  const url = storeUrl(config);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    // node-postgres loads only for a PostgreSQL store: a SQLite node never holds it.
    const { openPostgresStore } = await import('./store/postgres/index.ts');
    return openPostgresStore(url, { applicationName: options.nodeId ? `sealgate ${options.nodeId}` : 'sealgate', beforeMigrate: options.beforeMigrate, logger: options.logger });
  }
  if (url.startsWith('sqlite:')) return openSqliteStore(path.resolve(config.dataDir, url.slice('sqlite:'.length)));
  throw new Error(`store.url ${JSON.stringify(url)}: use sqlite:<file> or postgres://…`);
}

/** A stable id per data dir: leases name their node, and a restarted node reclaims its own. */
function nodeIdOf(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = `node-${randomBytes(6).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

export interface InitResult {
  createdKey: boolean;
  keyFile: string;
}

/** `sealgate init`: data dir (0700) and master key (0600); harmless when already done. */
export function initDataDir(config: Config): InitResult {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const keyFile = masterKeyPath(config);
  if (process.env.SEALGATE_MASTER_KEY || existsSync(keyFile)) return { createdKey: false, keyFile };
  createMasterKey(keyFile);
  return { createdKey: true, keyFile };
}

/** `intakeCommit`: where enqueued messages' rows commit (a listener worker on SQLite: the primary). */
export async function openRuntime(config: Config, logger: Logger = createLogger(config), options: { intakeCommit?: IntakeCommit } = {}): Promise<Runtime> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const masterKey = loadMasterKey(masterKeyPath(config));
  const vault = createVault(masterKey);
  const nodeId = nodeIdOf(config.dataDir);
  // The key is checked before migrations run: a node that may not start changes nothing.
  const store = await openStore(config, { nodeId, logger, beforeMigrate: (opened) => checkMasterKey(opened, vault, { beforeMigrations: true }) });
  try {
    await checkMasterKey(store, vault);
  } catch (error) {
    await store.close();
    throw error;
  }
  // A cluster shares its database, not its disks: there large bodies live in PostgreSQL.
  const blobs = store.capabilities.bodiesInDatabase ? openDatabaseBlobStore(store) : openBlobStore(path.join(config.dataDir, 'blobs'));
  const clock = systemClock;
  // Body keys as files where deleting one is real; a cluster without a shared folder keeps them in PostgreSQL.
  const keyDir = config.queue.keyDir ?? (store.capabilities.bodiesInDatabase ? undefined : path.join(config.dataDir, 'queue-keys'));
  // Key files made ahead for new ids (key-slots.ts): every body key seals to the same length.
  const keys = keyDir ? openKeyFiles(path.resolve(config.dataDir, keyDir), { slots: { bytes: vault.seal(Buffer.alloc(BODY_KEY_BYTES)).length, idLength: MESSAGE_ID_LENGTH } }) : openDatabaseKeyStore(store);
  // Derived like the audit checkpoint key, under its own label: the two keys differ, and
  // neither is stored. Every node holding the master key signs with the same receipt key.
  const receipts = receiptSigner(Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sealgate delivery receipt key v1', 32)));
  const queue = new Queue({ store, blobs, vault, clock, logger, keys, receiptSigner: receipts, intakeCommit: options.intakeCommit });
  return {
    config,
    logger,
    clock,
    store,
    blobs,
    vault,
    queue,
    users: new Users(store, clock, config.login, { vault, passwordMinLength: config.login.passwordMinLength, totpRequiredFor: config.login.totpRequiredFor }),
    pickup: new PickupStore({ store, masterKey, dataDir: config.dataDir, shareDir: config.pickup.shareDir, clock, onOpened: (opened) => pickupOpenedReceipt(queue, logger, opened) }),
    // The checkpoint key is derived, not stored: the master key is the one secret to keep.
    // The newest checkpoint this node signed is kept in its data dir too: verify holds the table to it.
    audit: new AuditLog({ store, node: nodeId, clock, logger, signer: auditSigner(Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sealgate audit checkpoint key v1', 32))), witness: fileWitness(path.join(config.dataDir, 'audit-checkpoint.json')) }),
    receiptSigner: receipts,
    nodeId,
    close: () => store.close(),
  };
}

/**
 * Every pickup opened gets a signed receipt, filed under the queue ID of the message held for
 * it (`smtp-<ID>` compositions) or under the pickup's own ID (composed in the console). The open
 * itself has already happened: a failure to write the proof is logged, not shown to the reader.
 */
async function pickupOpenedReceipt(queue: Queue, logger: Logger, opened: PickupOpened): Promise<void> {
  const messageId = opened.compositionId?.startsWith('smtp-') ? opened.compositionId.slice('smtp-'.length) : opened.id;
  try {
    await queue.recordPickupOpened({ messageId, pickupId: opened.id, recipient: opened.recipient, sender: opened.sender, at: opened.at, ip: opened.ip, newBrowser: opened.newBrowser });
  } catch (error) {
    logger.error({ err: (error as Error).message, pickupId: opened.id, messageId }, 'RECEIPT GAP: a pickup was opened but its signed receipt was not written');
  }
}

const KEY_CHECK_PLAIN = 'sealgate master key check v1';

/**
 * Every node of a cluster must hold the same master key: one with another key would lease
 * messages it cannot decrypt. The first node stores a value sealed with its key; any node
 * that cannot open it refuses to start.
 */
export async function checkMasterKey(store: Store, vault: Vault, options: { beforeMigrations?: boolean } = {}): Promise<void> {
  let row: { value: string } | undefined;
  try {
    row = await store.db.selectFrom('settings').select('value').where('name', '=', 'vault.key_check').executeTakeFirst();
  } catch (error) {
    // Before migrations a fresh database has no settings table: nothing to check against yet.
    if (options.beforeMigrations && /does not exist|no such table/i.test((error as Error).message)) return;
    throw error;
  }
  if (!row) {
    if (options.beforeMigrations) return; // the first node seals its value after migrating
    const value = vault.seal(Buffer.from(KEY_CHECK_PLAIN)).toString('base64');
    await store.db.insertInto('settings').values({ name: 'vault.key_check', value }).onConflict((oc) => oc.column('name').doNothing()).execute();
    return checkMasterKey(store, vault);
  }
  let opened: string | undefined;
  try {
    opened = vault.open(Buffer.from(row.value, 'base64')).toString();
  } catch {
    opened = undefined;
  }
  if (opened !== KEY_CHECK_PLAIN) {
    throw new MasterKeyError(
      'this master key is not the one that encrypted this database; every node sharing the database needs the same key (copy master.key or set SEALGATE_MASTER_KEY on each node)',
    );
  }
}
