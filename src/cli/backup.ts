/**
 * `sealgate backup create|verify|restore|keygen` (issue 13 "Backup"): an encrypted,
 * integrity-checked archive of the database (a consistent snapshot while the gateway runs), the
 * queue's body files and keys, and the master key; locked with a passphrase or to an X25519
 * recipient key (`backup keygen` makes the pair; the identity stays offline). Pickup shares are left out by design: a message retracted
 * after the backup stays unreadable, and so do the pickups a restore brings back.
 */
import { writeFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, createWriteStream, mkdirSync, copyFileSync, chmodSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { masterKeyPath, storeUrl, type Config } from '../config/index.ts';
import { dumpPostgres, restorePostgres, schemaOf, snapshotSqlite } from '../store/index.ts';
import { BackupError, generateBackupKeyPair, parseIdentity, parseRecipient, readArchive, writeArchive, type ArchiveEntry, type ArchiveLock, type ArchiveUnlock } from '../vault/index.ts';
import { adminActor } from './admin-actor.ts';
import type { Command, CommandContext } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { note, out, outJson } from './output.ts';
import { requireInstallation, withRuntime } from './with-runtime.ts';

const LEFT_OUT = 'Pickup shares are not in the backup, by design: a message retracted after it stays unreadable, and pickups brought back by a restore cannot be opened (their senders can send them again).';

function passphraseOf(ctx: CommandContext): string {
  const file = ctx.options['passphrase-file'] as string | undefined;
  const passphrase = file ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : process.env.SEALGATE_BACKUP_PASSPHRASE;
  if (!passphrase) throw new UsageError('give the backup passphrase with --passphrase-file FILE or $SEALGATE_BACKUP_PASSPHRASE');
  return passphrase;
}

/** `--recipient KEY` (the key itself, or a file holding it) or the passphrase. */
function lockOf(ctx: CommandContext): ArchiveLock {
  const recipient = ctx.options.recipient as string | undefined;
  if (!recipient) return passphraseOf(ctx);
  if (ctx.options['passphrase-file']) throw new UsageError('give --recipient or --passphrase-file, not both');
  const text = recipient.startsWith('sealgate-backup-x25519:') ? recipient : existsSync(recipient) ? readFileSync(recipient, 'utf8') : recipient;
  return { recipient: parseRecipient(text) };
}

/** `--identity FILE` or the passphrase. */
function unlockOf(ctx: CommandContext): ArchiveUnlock {
  const identity = ctx.options.identity as string | undefined;
  if (!identity) return passphraseOf(ctx);
  if (ctx.options['passphrase-file']) throw new UsageError('give --identity or --passphrase-file, not both');
  return { identity: parseIdentity(readFileSync(identity, 'utf8')) };
}

function sqliteFile(config: Config): string | null {
  const url = storeUrl(config);
  return url.startsWith('sqlite:') ? path.resolve(config.dataDir, url.slice('sqlite:'.length)) : null;
}

/** Every file under `dir` as archive entries named `prefix/relative`. */
function filesUnder(dir: string, prefix: string): ArchiveEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .flatMap((e) => {
      const file = path.join(e.parentPath, e.name);
      try {
        return [{ name: `${prefix}/${path.relative(dir, file).split(path.sep).join('/')}`, file, size: statSync(file).size, optional: true }];
      } catch {
        return []; // delivered and deleted since the listing
      }
    });
}

/** Exit codes for a stop by signal (128 + its number), as a shell reports them. */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * Until the returned release runs, a stop by signal first removes `paths` (read when the signal
 * comes, so callers add to it as they write): Node's default is to exit at once, skipping every
 * clean-up, which left decrypted work folders and half-written restores behind.
 */
function removedOnStop(paths: string[]): () => void {
  const handlers = Object.entries(STOP_SIGNALS).map(([signal, code]) => {
    const handler = () => {
      for (const p of paths) rmSync(p, { recursive: true, force: true });
      process.exit(code);
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

async function create(ctx: CommandContext): Promise<number> {
  const [target] = ctx.args;
  requireInstallation(ctx.config);
  const lock = lockOf(ctx);
  if (existsSync(target)) throw new CliError(EX.cantCreate, `${target} exists: a backup never overwrites a file`);
  const work = mkdtempSync(path.join(ctx.config.dataDir, '.backup-'));
  const partial = `${target}.partial`;
  const release = removedOnStop([work, partial]);
  try {
    const config = ctx.config;
    const queueKeys = path.resolve(config.dataDir, config.queue.keyDir ?? 'queue-keys');
    // Recorded first, so the backup holds the event of its own making.
    await withRuntime(config, ctx.deps, ({ audit }) => audit.record({ actor: adminActor(), action: 'backup.create', protocol: 'cli', detail: { file: path.resolve(target) } }));
    // Body files first, then the database: a row in the snapshot has its body on disk already.
    const files = [...filesUnder(path.join(config.dataDir, 'blobs'), 'blobs'), ...filesUnder(queueKeys, 'queue-keys')];
    const sqlite = sqliteFile(config);
    const database = path.join(work, sqlite ? 'database.sqlite' : 'database.pgdump');
    if (sqlite) await snapshotSqlite(sqlite, database);
    else await dumpPostgres(storeUrl(config), database);
    const entries: ArchiveEntry[] = [
      { name: 'master.key', file: masterKeyPath(config), size: statSync(masterKeyPath(config)).size },
      { name: path.basename(database), file: database, size: statSync(database).size },
      ...files,
      ...filesUnder(path.join(config.dataDir, 'blobs'), 'blobs').filter((f) => !files.some((g) => g.name === f.name)),
    ];
    const manifest = await writeArchive(createWriteStream(partial, { mode: 0o600, flags: 'wx' }), entries, lock, { dialect: sqlite ? 'sqlite' : 'postgres', leftOut: ['pickup-shares', 'node-id', 'self-signed certificate'] }, Date.now(), { scryptLogN: config.backup.scryptLogN });
    renameSync(partial, target);
    if (ctx.json) outJson({ file: path.resolve(target), files: manifest.files, leftOut: LEFT_OUT });
    else {
      out(`backup written to ${target}: ${manifest.files.length} file(s), ${manifest.files.reduce((n, f) => n + f.size, 0)} bytes before encryption (database, master key, queued bodies and keys)`);
      note(LEFT_OUT);
    }
    return EX.ok;
  } catch (error) {
    // Ours unless it was there already (another create writing the same file).
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(partial, { force: true });
    throw error;
  } finally {
    release();
    rmSync(work, { recursive: true, force: true });
  }
}

async function verify(ctx: CommandContext): Promise<number> {
  const [file] = ctx.args;
  // Checked in memory, written nowhere: the medium the archive sits on is why it is encrypted.
  const manifest = await readArchive(file, unlockOf(ctx), null);
  if (ctx.json) outJson(manifest);
  else out(`backup intact: ${manifest.files.length} file(s), made ${new Date(manifest.created).toISOString()} (${String(manifest.about.dialect)})`);
  return EX.ok;
}

/**
 * A restore goes onto an empty data dir: no master key, no database nor a `-wal`, `-shm` or
 * `-journal` of one (SQLite would replay a stale WAL into the restored file), and the body and
 * key folders absent or without files (else old bodies mix with the restored rows). Checked before
 * anything is written.
 */
function refuseLeftovers(keyFile: string, sqlite: string | null, folders: string[]): void {
  const files = [keyFile, ...(sqlite ? ['', '-wal', '-shm', '-journal'].map((suffix) => `${sqlite}${suffix}`) : [])];
  const inTheWay = [
    ...files.filter((f) => lstatOrNull(f) !== null),
    ...folders.filter((d) => {
      const stat = lstatOrNull(d);
      // Empty folders (the gateway's own tmp/) are no leftovers; any file is.
      return stat !== null && (!stat.isDirectory() || readdirSync(d, { recursive: true, withFileTypes: true }).some((e) => !e.isDirectory()));
    }),
  ];
  if (inTheWay.length) {
    throw new CliError(EX.cantCreate, `restore goes onto an empty data dir: ${inTheWay.join(', ')} ${inTheWay.length === 1 ? 'exists' : 'exist'} (left from an earlier installation? move it away, or point --config at a new data dir); nothing was restored`);
  }
}

function lstatOrNull(file: string): Stats | null {
  return lstatSync(file, { throwIfNoEntry: false }) ?? null;
}

async function restore(ctx: CommandContext): Promise<number> {
  const [file] = ctx.args;
  const config = ctx.config;
  const keyFile = masterKeyPath(config);
  const sqlite = sqliteFile(config);
  const queueKeys = path.resolve(config.dataDir, config.queue.keyDir ?? 'queue-keys');
  refuseLeftovers(keyFile, sqlite, [path.join(config.dataDir, 'blobs'), queueKeys]);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Work folders of a restore that was killed (SIGKILL, power loss): plaintext copies of the
  // master key, the database and the body keys that no purge would ever reach.
  for (const stale of readdirSync(config.dataDir).filter((name) => name.startsWith('.restore-'))) {
    rmSync(path.join(config.dataDir, stale), { recursive: true, force: true });
    note(`removed ${stale}, left in the data dir by a restore that did not finish`);
  }
  const work = mkdtempSync(path.join(config.dataDir, '.restore-'));
  // What this restore wrote into the data dir so far: taken back if it fails or is stopped.
  const written: string[] = [work];
  const release = removedOnStop(written);
  let complete = false;
  try {
    const manifest = await readArchive(file, unlockOf(ctx), work);
    const dialect = manifest.about.dialect;
    if ((dialect === 'sqlite') !== Boolean(sqlite)) throw new CliError(EX.config, `the backup is of a ${String(dialect)} store, the config names ${sqlite ? 'SQLite' : 'PostgreSQL'}: restore it with a config of the same kind`);
    for (const needed of ['master.key', sqlite ? 'database.sqlite' : 'database.pgdump']) {
      if (!manifest.files.some((f) => f.name === needed)) throw new BackupError(`the backup holds no ${needed}: it was not made by sealgate backup create, and nothing was restored`);
    }
    // Decrypting took a while: nothing may have appeared in the meantime.
    refuseLeftovers(keyFile, sqlite, [path.join(config.dataDir, 'blobs'), queueKeys]);
    if (sqlite) {
      mkdirSync(path.dirname(sqlite), { recursive: true, mode: 0o700 });
      written.push(sqlite);
      copyFileSync(path.join(work, 'database.sqlite'), sqlite);
    } else {
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: storeUrl(config) });
      await client.connect();
      let schemaExists = false;
      try {
        const schema = schemaOf(storeUrl(config));
        const tables = await client.query('select count(*)::int as n from information_schema.tables where table_schema = $1', [schema]);
        if (tables.rows[0].n > 0) throw new CliError(EX.cantCreate, `restore goes into an empty schema: ${schema} holds ${tables.rows[0].n} table(s)`);
        schemaExists = (await client.query('select 1 from information_schema.schemata where schema_name = $1', [schema])).rowCount === 1;
      } finally {
        await client.end();
      }
      await restorePostgres(storeUrl(config), path.join(work, 'database.pgdump'), schemaExists);
    }
    mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    written.push(keyFile);
    copyFileSync(path.join(work, 'master.key'), keyFile);
    chmodSync(keyFile, 0o600);
    for (const [from, to] of [[path.join(work, 'blobs'), path.join(config.dataDir, 'blobs')], [path.join(work, 'queue-keys'), queueKeys]] as const) {
      if (existsSync(from)) {
        mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
        written.push(to);
        renameSync(from, to);
      }
    }
    // Every file is in place: from here a failure or a signal leaves a whole restore.
    complete = true;
    release();
    // Deliveries in flight at backup time hold leases of a node that will never run on this
    // copy (node ids stay out of backups); queued again now, not after queue.leaseMs.
    const requeued = await withRuntime(config, ctx.deps, async ({ audit, queue }) => {
      const released = await queue.releaseLeases(null);
      await audit.record({ actor: adminActor(), action: 'backup.restore', protocol: 'cli', detail: { file: path.resolve(file), made: manifest.created, files: manifest.files.length, requeued: released } });
      return released;
    });
    out(`restored ${manifest.files.length} file(s) from a backup made ${new Date(manifest.created).toISOString()} into ${config.dataDir}; start the gateway with sealgate serve`);
    if (requeued > 0) note(`${requeued} delivery(ies) in progress when the backup was taken are queued again.`);
    note(LEFT_OUT);
    return EX.ok;
  } catch (error) {
    if (!complete) for (const p of written) rmSync(p, { recursive: true, force: true });
    throw error;
  } finally {
    release();
    rmSync(work, { recursive: true, force: true });
  }
}

/** `backup keygen --out FILE`: the identity into a new 0600 file, the public key on stdout. */
async function keygen(ctx: CommandContext): Promise<number> {
  const target = ctx.options.out as string | undefined;
  if (!target) throw new UsageError('give the identity file to write with --out FILE');
  const pair = generateBackupKeyPair();
  writeFileSync(target, pair.identity, { mode: 0o600, flag: 'wx' });
  if (ctx.json) outJson({ identity: path.resolve(target), publicKey: pair.publicKey });
  else {
    out(pair.publicKey);
    note(`identity written to ${target}: keep it offline (it opens every backup made to this key); give the line above to backup create --recipient`);
  }
  return EX.ok;
}

const passphraseOption = { 'passphrase-file': { type: 'string', value: 'FILE', help: 'a file holding the passphrase (default: $SEALGATE_BACKUP_PASSPHRASE)' } } as const;
const createOptions = { ...passphraseOption, recipient: { type: 'string', value: 'KEY', help: 'lock the backup to this public key (sealgate-backup-x25519:…, or a file holding it) instead of a passphrase' } } as const;
const openOptions = { ...passphraseOption, identity: { type: 'string', value: 'FILE', help: 'the identity file (from backup keygen) of a backup made with --recipient' } } as const;

/** A wrong passphrase, an edit or a cut: bad data (65), in words. */
function asCliError<T extends unknown[]>(run: (ctx: CommandContext, ...rest: T) => Promise<number>) {
  return async (ctx: CommandContext, ...rest: T) => {
    try {
      return await run(ctx, ...rest);
    } catch (error) {
      if (error instanceof BackupError) throw new CliError(EX.data, error.message);
      throw error;
    }
  };
}

export const backupCommands: Command[] = [
  { name: 'backup create', usage: 'FILE [--passphrase-file F | --recipient KEY]', summary: 'write an encrypted backup of the database, queued bodies and master key (consistent while the gateway runs)', options: createOptions, json: true, args: { min: 1, max: 1 }, run: asCliError(create) },
  { name: 'backup verify', usage: 'FILE [--passphrase-file F | --identity F]', summary: 'decrypt a backup and check every file against its manifest', options: openOptions, json: true, args: { min: 1, max: 1 }, run: asCliError(verify) },
  { name: 'backup restore', usage: 'FILE [--passphrase-file F | --identity F]', summary: 'restore a backup onto an empty data dir (and an empty PostgreSQL schema)', options: openOptions, args: { min: 1, max: 1 }, run: asCliError(restore) },
  { name: 'backup keygen', usage: '--out FILE', summary: 'make a key pair for backups: the identity into FILE (keep it offline), the public key for --recipient on stdout', options: { out: { type: 'string', value: 'FILE', help: 'where to write the identity (a new file, mode 0600)' } }, json: true, args: { max: 0 }, run: asCliError(keygen) },
];
