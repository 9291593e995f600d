import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { DecryptStream, keyObject } from '../../src/vault/index.ts';
import { openBuffer, unwrapKey } from '../../src/vault/chunked.ts';
import { deriveSecretShare, openValue, replyPasswordKey, subkey, unwrapDataKey } from '../../src/pickup/keys.ts';
import { openStream } from '../../src/pickup/part-streams.ts';
import { openSenderView } from '../../src/pickup/sender-view.ts';
import { filesUnder } from './ports.ts';

/*
 * What an attacker gets from a copy of the data dir AND the master key (issue 9 item 8). The
 * scanner reads every file raw, opens the copied SQLite database (its WAL replayed), tries the
 * master key and every key it recovers on every cell and every file, carves vault objects
 * ("SGV1") out of free pages and old WAL frames, recovers message passwords from whatever it
 * decrypted and opens pickup messages and replies with them, ignoring their state (an
 * attacker does not honour "retracted"). Then it looks for each secret in every plaintext and
 * raw byte it holds: as UTF-8, base64 (every alignment) and quoted-printable.
 */

export interface Finding {
  secret: string;
  /** Where it was found: `raw <file>`, `carved <file>@<offset>`, `cell <table>.<column>`, `pickup <id>`, … */
  where: string;
}

export interface ScanOptions {
  /** Passphrases or answers the attacker is assumed to know or to have guessed offline. */
  guesses?: string[];
  /** The database's rows by table, when it is not the SQLite file in `dir` (a PostgreSQL dump). */
  tables?: Record<string, Record<string, unknown>[]>;
}

const MAGIC = Buffer.from('SGV1');
const HEADER_LEN = 4 + 60 + 4;
const PASSWORD = /[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){6}/g;

function qpEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (b === 0x3d || b > 0x7e ? `=${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b))).join('');
}

/** The forms a secret can take inside a message or a file. */
function formsOf(secret: string): Buffer[] {
  const plain = Buffer.from(secret, 'utf8');
  const forms = [plain, Buffer.from(qpEncode(secret))];
  // base64 at each of the three alignments, without the edge characters that depend on neighbours.
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad, 0x41), plain]).toString('base64');
    const start = Math.ceil((pad * 4) / 3) + 1;
    forms.push(Buffer.from(encoded.slice(start, encoded.length - 4)));
  }
  return forms.filter((f) => f.length >= 8);
}

/** Line breaks and QP soft breaks removed, so encoded text split across lines still matches. */
const unfolded = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').replace(/=\r?\n/g, '').replace(/\r?\n/g, ''), 'latin1');

async function decryptFrom(key: Buffer, bytes: Buffer): Promise<Buffer | null> {
  try {
    unwrapKey(key, bytes.subarray(4, 64));
  } catch {
    return null;
  }
  // Fed one frame at a time: what follows the object (other cells, garbage) fails only then.
  const out: Buffer[] = [];
  const stream = new DecryptStream(keyObject(key));
  let failed = false;
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  stream.on('error', () => (failed = true));
  stream.write(bytes.subarray(0, HEADER_LEN));
  for (let at = HEADER_LEN; !failed && at + 4 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    if (length > 4 * 1024 * 1024 || at + 4 + length + 16 > bytes.length) break;
    stream.write(bytes.subarray(at, at + 4 + length + 16));
    at += 4 + length + 16;
    await new Promise((resolve) => setImmediate(resolve));
  }
  stream.destroy();
  return Buffer.concat(out);
}

export async function scanDataDir(dir: string, masterKey: Buffer, secrets: Record<string, string>, options: ScanOptions = {}): Promise<Finding[]> {
  const plaintexts: { where: string; bytes: Buffer }[] = [];
  const keys = new Map<string, Buffer>([[masterKey.toString('hex'), masterKey]]);
  const sources: { where: string; bytes: Buffer }[] = [];
  const rel = (file: string) => path.relative(dir, file);

  for (const file of filesUnder(dir)) {
    if (!statSync(file).isFile()) continue;
    const bytes = readFileSync(file);
    sources.push({ where: rel(file), bytes });
    plaintexts.push({ where: `raw ${rel(file)}`, bytes });
  }

  // The database as SQLite sees it (the copied WAL replayed), every cell.
  const shares = new Map<string, Buffer>();
  const dbFile = path.join(dir, 'sealgate.db');
  let tables = options.tables;
  if (!tables && existsSync(dbFile)) {
    try {
      const db = new Database(dbFile);
      try {
        tables = {};
        for (const { name } of db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]) {
          tables[name] = db.prepare(`select * from "${name}"`).all() as Record<string, unknown>[];
        }
      } finally {
        db.close();
      }
    } catch (error) {
      plaintexts.push({ where: `note: database copy unreadable (${(error as Error).message})`, bytes: Buffer.alloc(0) });
    }
  }
  for (const [name, rows] of Object.entries(tables ?? {})) {
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (Buffer.isBuffer(value)) sources.push({ where: `cell ${name}.${column}`, bytes: value });
        else if (typeof value === 'string') {
          plaintexts.push({ where: `cell ${name}.${column}`, bytes: Buffer.from(value, 'utf8') });
          // Sealed values inside text (JSON envelopes): every base64 token is tried too.
          for (const token of value.match(/[A-Za-z0-9+/]{38,}={0,2}/g) ?? []) sources.push({ where: `cell ${name}.${column} (base64)`, bytes: Buffer.from(token, 'base64') });
        }
      }
    }
  }
  const pickupRows = tables?.pickup_messages ?? [];
  const partRows = tables?.pickup_parts ?? [];
  const replyRows = tables?.pickup_replies ?? [];
  const chunkRows = tables?.pickup_chunks ?? [];

  // Small sealed values under the master key: server shares, key files, sealed cells.
  for (const source of sources) {
    if (source.bytes.length < 28 || source.bytes.length > 4096) continue;
    let opened: Buffer;
    try {
      opened = openBuffer(keyObject(masterKey), source.bytes);
    } catch {
      continue;
    }
    plaintexts.push({ where: `sealed ${source.where}`, bytes: opened });
    if (opened.length === 32) {
      keys.set(opened.toString('hex'), opened);
      const share = /^pickup-shares\/([A-Za-z0-9_-]{22})$/.exec(source.where);
      if (share) shares.set(share[1], opened);
    }
  }

  // The sender view (subject, attachment names) of each pickup whose share was found (issue 10 item 7).
  for (const row of pickupRows) {
    const share = shares.get(String(row.id));
    if (!share || !row.sender_view_sealed) continue;
    try {
      plaintexts.push({ where: `pickup ${String(row.id)} sender view`, bytes: Buffer.from(JSON.stringify(openSenderView(share, String(row.id), Buffer.from(row.sender_view_sealed as Buffer))), 'utf8') });
    } catch {
      // sealed under another share
    }
  }

  // Small values sealed under a recovered key (a body key sealing an envelope's secret).
  for (const source of sources) {
    if (source.bytes.length < 28 || source.bytes.length > 4096) continue;
    for (const key of keys.values()) {
      if (key === masterKey) continue;
      try {
        plaintexts.push({ where: `sealed by a recovered key ${source.where}`, bytes: openBuffer(keyObject(key), source.bytes) });
        break;
      } catch {
        // not under this key
      }
    }
  }

  // Vault objects wherever they sit: rows, files, free pages, old WAL frames.
  for (const source of sources) {
    for (let at = source.bytes.indexOf(MAGIC); at >= 0; at = source.bytes.indexOf(MAGIC, at + 1)) {
      if (source.bytes.length - at < HEADER_LEN) break;
      for (const key of keys.values()) {
        const plain = await decryptFrom(key, source.bytes.subarray(at));
        if (plain) {
          plaintexts.push({ where: `carved ${source.where}@${at}`, bytes: plain });
          break;
        }
      }
    }
  }

  // Pickup messages and replies, opened with every password found so far.
  const opened = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const passwords = new Set<string>();
    for (const p of plaintexts) for (const match of unfolded(p.bytes).toString('latin1').matchAll(PASSWORD)) passwords.add(match[0]);
    for (const reply of replyRows) {
      const password = await replyPassword(reply, shares, masterKey);
      if (password) passwords.add(password);
    }
    for (const row of pickupRows) {
      const id = String(row.id);
      const share = shares.get(id);
      if (!share || opened.has(id)) continue;
      const dek = await tryUnwrap(row, share, [...passwords], options.guesses ?? []);
      if (!dek) continue;
      opened.add(id);
      plaintexts.push({ where: `pickup ${id} subject`, bytes: openValue(dek, Buffer.from(row.subject_sealed as Buffer), `${id}/subject`) });
      for (const part of partRows.filter((p) => p.message_id === id)) {
        const idx = Number(part.idx);
        const external = path.join(dir, 'pickup', id, String(idx));
        const chunks = chunkRows.filter((c) => c.message_id === id && Number(c.idx) === idx).sort((a, b) => Number(a.seq) - Number(b.seq));
        const sealed = part.data ? Buffer.from(part.data as Buffer)
          : chunks.length ? Buffer.concat(chunks.map((c) => Buffer.from(c.data as Buffer)))
          : existsSync(external) ? readFileSync(external) : null;
        if (!sealed) continue;
        const out: Buffer[] = [];
        try {
          for await (const chunk of openStream(subkey(dek, `sealgate pickup part v1 ${id}/${idx}`), Readable.from([sealed]))) out.push(chunk as Buffer);
        } catch {
          // a damaged part yields what authenticated
        }
        plaintexts.push({ where: `pickup ${id} part ${idx}`, bytes: Buffer.concat(out) });
      }
    }
  }

  const findings: Finding[] = [];
  for (const [name, value] of Object.entries(secrets)) {
    const forms = formsOf(value);
    for (const p of plaintexts) {
      const flat = unfolded(p.bytes);
      if (forms.some((f) => p.bytes.includes(f) || flat.includes(f))) findings.push({ secret: name, where: p.where });
    }
  }
  return findings;
}

async function tryUnwrap(row: Record<string, unknown>, serverShare: Buffer, passwords: string[], guesses: string[]): Promise<Buffer | null> {
  const id = String(row.id);
  const salt = row.secret_salt ? Buffer.from(row.secret_salt as Buffer) : null;
  const kind = row.verification === 'question' ? 'answer' : 'passphrase';
  const secretShares: (Buffer | undefined)[] = salt ? await Promise.all(guesses.map((g) => deriveSecretShare(g, salt, kind))) : [undefined];
  for (const messagePassword of passwords) {
    for (const secretShare of secretShares) {
      try {
        return unwrapDataKey(Buffer.from(row.wrapped_dek as Buffer), { serverShare, messagePassword, secretShare, messageId: id });
      } catch {
        // not this one
      }
    }
  }
  return null;
}

/** A reply's message password, as the server itself would recover it from what the copy holds. */
async function replyPassword(row: Record<string, unknown>, shares: Map<string, Buffer>, masterKey: Buffer): Promise<string | null> {
  const sealed = Buffer.from(row.password_sealed as Buffer);
  const share = shares.get(String(row.message_id));
  if (share) {
    try {
      return openValue(replyPasswordKey(share, String(row.message_id)), sealed, `${String(row.reply_id)}/reply-password`).toString('utf8');
    } catch {
      // sealed the older way
    }
  }
  try {
    return openBuffer(keyObject(masterKey), sealed).toString('utf8');
  } catch {
    return null;
  }
}
