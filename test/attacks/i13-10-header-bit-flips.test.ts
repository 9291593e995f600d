import { once } from 'node:events';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BackupError, generateBackupKeyPair, parseIdentity, parseRecipient, readArchive, writeArchive, type ArchiveLock, type ArchiveUnlock } from '../../src/vault/index.ts';
import { tempDir } from '../helpers/ports.ts';
import { sealgate } from '../integration/12-cli/run-cli.ts';

/*
 * Issue 13 "Backup", attacker's pass: "a changed byte is refused with exit 65" must hold for
 * the archive's plain first line too (format, KDF parameters or recipient stanza), which the
 * chunks' authentication does not cover. Every single-bit flip of that line, for a passphrase
 * and for a recipient archive. Before, flips in base64 padding or a character Node's lenient
 * base64 decoder skips (the salt's `==`, the wrapped key's) decoded to the same bytes and the
 * archive was "intact"; a flip that made N no power of two escaped as a raw
 * `RangeError: Invalid scrypt params` (exit 70) instead of a sentence and exit 65.
 */
const temp = tempDir('sealgate-i13-10-');
const PASSPHRASE = 'a long backup passphrase';
afterAll(() => temp.cleanup());

async function archive(name: string, lock: ArchiveLock): Promise<string> {
  const source = path.join(temp.dir, 'source.txt');
  writeFileSync(source, 'hello world');
  const file = path.join(temp.dir, name);
  const out = createWriteStream(file);
  await writeArchive(out, [{ name: 'source.txt', file: source, size: 11 }], lock, {}, 0, { scryptLogN: 14 });
  if (!out.writableFinished) await once(out, 'finish');
  return file;
}

/** Each single-bit flip of the header line that `readArchive` did not refuse with a BackupError. */
async function acceptedFlips(file: string, unlock: ArchiveUnlock): Promise<string[]> {
  const bytes = readFileSync(file);
  const end = bytes.indexOf(0x0a);
  const flipped = path.join(temp.dir, 'flipped.backup');
  const accepted: string[] = [];
  for (let at = 0; at <= end; at++) {
    for (let bit = 0; bit < 8; bit++) {
      const changed = Buffer.from(bytes);
      changed[at] ^= 1 << bit;
      writeFileSync(flipped, changed);
      const outcome = await readArchive(flipped, unlock, null).then(() => 'intact', (error: Error) => (error instanceof BackupError ? null : `${error.name}: ${error.message}`));
      if (outcome) accepted.push(`byte ${at} (${JSON.stringify(String.fromCharCode(bytes[at]))}) bit ${bit}: ${outcome}`);
    }
  }
  return accepted;
}

it('every bit flipped in the header line is refused as a damaged backup', async () => {
  const passphrase = await archive('pass.backup', PASSPHRASE);
  expect(await acceptedFlips(passphrase, PASSPHRASE)).toEqual([]);
  const pair = generateBackupKeyPair();
  const recipient = await archive('recipient.backup', { recipient: parseRecipient(pair.publicKey) });
  expect(await acceptedFlips(recipient, { identity: parseIdentity(pair.identity) })).toEqual([]);
}, 300_000);

it('the CLI says so with exit 65: a flip in the salt padding and one in N', async () => {
  const config = path.join(temp.dir, 'sealgate.json');
  writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'data'), web: { enabled: false } }));
  const passFile = path.join(temp.dir, 'pass');
  writeFileSync(passFile, PASSPHRASE);
  const file = await archive('cli.backup', PASSPHRASE);
  const bytes = readFileSync(file);
  const header = bytes.subarray(0, bytes.indexOf(0x0a)).toString('latin1');
  const cases = [['padding', header.indexOf('=='), 0x01], ['N', header.indexOf('"N":') + 8, 0x01]] as const;
  for (const [what, at, mask] of cases) {
    const changed = Buffer.from(bytes);
    changed[at] ^= mask;
    const target = path.join(temp.dir, `cli-${what}.backup`);
    writeFileSync(target, changed);
    const run = await sealgate(temp.dir, ['backup', 'verify', target, '--passphrase-file', passFile, '--config', config]);
    expect(run, what).toMatchObject({ code: 65, stderr: expect.stringMatching(/the backup header is damaged|key derivation this version does not read|wrong passphrase, or the file was changed/) });
  }
}, 60_000);
