/**
 * The encrypted backup archive (issue 13 "Backup"): a plain first line naming the format and
 * the passphrase's scrypt parameters, then the vault's chunked AES-256-GCM stream (each chunk
 * authenticated, the last one marked, so an edit or a cut fails) under a key derived from the
 * passphrase. Inside: files one after another, then a manifest with each file's SHA-256.
 * Hand-written rather than tar: a few lines with nothing to interpret (no links, modes or
 * paths outside the archive's own names).
 */
import { createHash, randomBytes, scrypt as scryptCallback, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, existsSync, createWriteStream, mkdirSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { DecryptStream, EncryptStream, keyObject, VaultIntegrityError } from './chunked.ts';
import { BackupError } from './backup-archive-error.ts';
import { openFileKey, sealFileKey, type RecipientStanza } from './backup-archive-recipient.ts';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const MAGIC = 'SEALGATE-BACKUP 1 ';
// scrypt at N=2^17, r=8 (128 MiB, ~0.4 s): what age uses for passphrases. `backup.scryptLogN`
// sets the exponent (validated 14..20 in the config schema); readers take it from the header.
const KDF = { N: 2 ** 17, r: 8, p: 1 };
/** Below this exponent a written archive would be cheap to guess at: refused even if asked. */
const MIN_LOG_N = 14;
/** An entry name: a relative path of plain parts, nothing that could climb out of the target. */
const NAME = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

export { BackupError };

/**
 * How an archive is locked: a passphrase (scrypt), or an X25519 recipient key (only its
 * identity opens it; see backup-archive-recipient.ts).
 */
export type ArchiveLock = string | { recipient: KeyObject };
/** How an archive is opened: its passphrase, or the identity of the recipient it was made to. */
export type ArchiveUnlock = string | { identity: KeyObject };

export interface ArchiveEntry {
  name: string;
  /** A file to read, streamed. */
  file: string;
  size: number;
  /** A queued body may be delivered and deleted while the backup runs: then it is left out. */
  optional?: boolean;
}

export interface Manifest {
  created: number;
  /** What the archive holds beyond the files (dialect, node, what was left out and why). */
  about: Record<string, unknown>;
  files: { name: string; size: number; sha256: string }[];
}

async function keyFor(passphrase: string, salt: Buffer, kdf: typeof KDF) {
  if (passphrase.length < 8) throw new BackupError('the backup passphrase must have at least 8 characters');
  try {
    return keyObject(await scrypt(passphrase.normalize('NFC'), salt, 32, { ...kdf, maxmem: 256 * 1024 * 1024 }));
  } catch (error) {
    // Parameters within the header's bounds that still need more than 256 MiB (N and r both high).
    throw new BackupError(`the backup's key derivation cannot run here (${(error as Error).message}): the header is damaged or not from sealgate backup create`);
  }
}

/**
 * Writes the archive of `entries` to `out`, encrypted under `lock` (a passphrase or a recipient
 * key); `scryptLogN` is the passphrase KDF's cost exponent (default 17).
 */
export async function writeArchive(out: Writable, entries: ArchiveEntry[], lock: ArchiveLock, about: Record<string, unknown>, now: number, options: { scryptLogN?: number } = {}): Promise<Manifest> {
  for (const entry of entries) if (!NAME.test(entry.name)) throw new BackupError(`archive entry name ${JSON.stringify(entry.name)} is not a plain relative path`);
  let key: KeyObject;
  if (typeof lock === 'string') {
    const logN = options.scryptLogN ?? Math.log2(KDF.N);
    if (!Number.isInteger(logN) || logN < MIN_LOG_N || logN > 20) throw new BackupError(`the backup scrypt cost 2^${logN} is outside 2^${MIN_LOG_N}..2^20`);
    const kdf = { ...KDF, N: 2 ** logN };
    const salt = randomBytes(16);
    key = await keyFor(lock, salt, kdf);
    out.write(`${MAGIC}${JSON.stringify({ kdf: { name: 'scrypt', salt: salt.toString('base64'), ...kdf } })}\n`);
  } else {
    const fileKey = randomBytes(32);
    key = keyObject(fileKey);
    out.write(`${MAGIC}${JSON.stringify({ recipient: sealFileKey(fileKey, lock.recipient) })}\n`);
  }
  const encrypt = new EncryptStream(key);
  const done = pipeline(encrypt, out);
  const write = async (chunk: Buffer | string) => {
    if (!encrypt.write(chunk)) await once(encrypt, 'drain');
  };
  const files: Manifest['files'] = [];
  for (const entry of entries) {
    if (entry.optional && !existsSync(entry.file)) continue;
    await write(`FILE ${entry.name} ${entry.size}\n`);
    const hash = createHash('sha256');
    let seen = 0;
    for await (const chunk of createReadStream(entry.file)) {
      seen += (chunk as Buffer).length;
      if (seen > entry.size) throw new BackupError(`${entry.name} grew while it was copied: the snapshot must not change`);
      hash.update(chunk as Buffer);
      await write(chunk as Buffer);
    }
    if (seen !== entry.size) throw new BackupError(`${entry.name} shrank while it was copied`);
    files.push({ name: entry.name, size: entry.size, sha256: hash.digest('hex') });
  }
  const manifest: Manifest = { created: now, about, files };
  await write(`END ${JSON.stringify(manifest)}\n`);
  encrypt.end();
  await done;
  return manifest;
}

type Header = { kdf: typeof KDF & { salt: Buffer }; start: number } | { recipient: RecipientStanza; start: number };

/** Reads the first line: the format and the KDF parameters or the recipient, and where the encrypted stream starts. */
function readHeader(file: string): Header {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(4096);
  let length: number;
  try {
    length = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const newline = head.subarray(0, length).indexOf(0x0a);
  const line = newline >= 0 ? head.subarray(0, newline).toString('utf8') : '';
  if (!line.startsWith(MAGIC)) throw new BackupError('this is not a Sealgate backup (no SEALGATE-BACKUP header)');
  let parsed: { kdf?: { name?: string; salt?: string; N?: number; r?: number; p?: number }; recipient?: Partial<RecipientStanza> };
  const text = line.slice(MAGIC.length);
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BackupError('the backup header is damaged');
  }
  // The chunks' authentication does not cover this line: only the exact text writeArchive
  // writes is read (no other spacing or escapes, base64 in its one canonical form), so no
  // changed byte here is taken for the same header.
  if (JSON.stringify(parsed) !== text) throw new BackupError('the backup header is damaged');
  const r = parsed.recipient;
  if (r) {
    if (r.name !== 'x25519' || typeof r.epk !== 'string' || typeof r.to !== 'string' || typeof r.wrapped !== 'string') throw new BackupError('the backup names a recipient key kind this version does not read');
    if (!canonical(r.epk, 'base64url') || !canonical(r.to, 'base64url') || !canonical(r.wrapped, 'base64')) throw new BackupError('the backup header is damaged');
    return { recipient: r as RecipientStanza, start: newline + 1 };
  }
  const k = parsed.kdf;
  if (k?.name !== 'scrypt' || !k.salt || !k.N || !k.r || !k.p || k.N > 2 ** 20 || k.r > 32 || k.p > 4) throw new BackupError('the backup names a key derivation this version does not read');
  if (!canonical(k.salt, 'base64') || !Number.isInteger(Math.log2(k.N)) || k.N < 2 || !Number.isInteger(k.r) || !Number.isInteger(k.p)) throw new BackupError('the backup header is damaged');
  return { kdf: { N: k.N, r: k.r, p: k.p, salt: Buffer.from(k.salt, 'base64') }, start: newline + 1 };
}

/** Base64 as Node writes it: the lenient decoder skips stray characters and padding, so a changed one would go unseen. */
function canonical(value: string, encoding: 'base64' | 'base64url'): boolean {
  return value !== '' && Buffer.from(value, encoding).toString(encoding) === value;
}

/**
 * Decrypts `file` and writes each entry under `targetDir` (null: checks only, writes nothing
 * anywhere, as `backup verify` must on the medium it reads); resolves with the manifest once
 * every file's SHA-256 matched. A wrong passphrase or identity, an edit or a cut throws a
 * BackupError.
 */
export async function readArchive(file: string, unlock: ArchiveUnlock, targetDir: string | null): Promise<Manifest> {
  const header = readHeader(file);
  const { start } = header;
  let key: KeyObject;
  if ('recipient' in header) {
    if (typeof unlock === 'string') throw new BackupError('this backup was made to a recipient key: open it with --identity FILE, not a passphrase');
    key = keyObject(openFileKey(header.recipient, unlock.identity));
  } else {
    if (typeof unlock !== 'string') throw new BackupError('this backup is locked with a passphrase: give --passphrase-file FILE (or $SEALGATE_BACKUP_PASSPHRASE), not an identity');
    key = await keyFor(unlock, header.kdf.salt, header.kdf);
  }
  const decrypt = new DecryptStream(key);
  const plain = new PassThrough();
  let failure: BackupError | undefined;
  let stopped = false;
  const fed = pipeline(createReadStream(file, { start }), decrypt, plain).catch((error: Error) => {
    // Once we stopped it, its "Premature close" is our doing, not the reason.
    if (!stopped) failure = asBackupError(error);
  });
  const reader = new EntryReader(plain);
  try {
    return await readEntries(reader, targetDir, async () => {
      await fed;
      if (failure) throw failure;
    });
  } catch (error) {
    stopped = true;
    plain.destroy(); // stop the decryption that nobody reads any more
    await fed;
    throw failure ?? asBackupError(error as Error);
  }
}

/** Any failure of decryption as the sentence a person acts on. */
function asBackupError(error: Error): BackupError {
  if (error instanceof BackupError) return error;
  if (error instanceof VaultIntegrityError || /integrity|authenticate|unsupported state|unwrapped/i.test(error.message)) {
    return new BackupError('the backup cannot be decrypted: wrong passphrase, or the file was changed or cut short');
  }
  return new BackupError(`reading the backup failed: ${error.message}`);
}

async function readEntries(reader: EntryReader, targetDir: string | null, finished: () => Promise<void>): Promise<Manifest> {
  const seen = new Map<string, string>();
  for (;;) {
    const line = await reader.line();
    if (line.startsWith('END ')) {
      const manifest = JSON.parse(line.slice(4)) as Manifest;
      await finished();
      for (const f of manifest.files) if (seen.get(f.name) !== f.sha256) throw new BackupError(`${f.name} in the backup does not match its manifest`);
      if (seen.size !== manifest.files.length) throw new BackupError('the backup holds files its manifest does not name');
      return manifest;
    }
    const match = /^FILE (\S+) (\d+)$/.exec(line);
    if (!match || !NAME.test(match[1]) || seen.has(match[1])) throw new BackupError('the backup is malformed (an entry header is wrong)');
    const [, name, sizeText] = match;
    const hash = createHash('sha256');
    const out = targetDir === null ? discard() : createWriteStream(createdPath(targetDir, name), { mode: 0o600, flags: 'wx' });
    await pipeline(reader.bytes(Number(sizeText)), new Transform({ transform(chunk, _e, cb) { hash.update(chunk as Buffer); cb(null, chunk); } }), out);
    seen.set(name, hash.digest('hex'));
  }
}

/** Where entry `name` goes under `targetDir`, its folders made. */
function createdPath(targetDir: string, name: string): string {
  const target = path.join(targetDir, name);
  mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  return target;
}

/** A sink for a checked entry's bytes: hashed on the way, kept nowhere. */
function discard(): Writable {
  return new Writable({ write(_chunk, _encoding, callback) { callback(); } });
}

/** Lines and exact byte counts out of a stream, without holding a file in memory. */
class EntryReader {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(source: Readable) {
    this.iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async more(): Promise<boolean> {
    const next = await this.iterator.next();
    if (next.done) return false;
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, next.value]) : next.value;
    return true;
  }

  async line(): Promise<string> {
    for (;;) {
      const newline = this.buffered.indexOf(0x0a);
      if (newline >= 0) {
        const line = this.buffered.subarray(0, newline).toString('utf8');
        this.buffered = this.buffered.subarray(newline + 1);
        return line;
      }
      if (this.buffered.length > 1024 * 1024) throw new BackupError('the backup is malformed (an entry header is too long)');
      if (!(await this.more())) throw new BackupError('the backup ends early: it was cut short');
    }
  }

  bytes(count: number): Readable {
    const self = this;
    return Readable.from((async function* () {
      let left = count;
      while (left > 0) {
        if (self.buffered.length === 0 && !(await self.more())) throw new BackupError('the backup ends early: it was cut short');
        const take = Math.min(left, self.buffered.length);
        yield self.buffered.subarray(0, take);
        self.buffered = self.buffered.subarray(take);
        left -= take;
      }
    })());
  }
}
