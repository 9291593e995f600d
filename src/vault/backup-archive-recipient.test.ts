import { createWriteStream, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupError, generateBackupKeyPair, parseIdentity, parseRecipient, readArchive, writeArchive } from './index.ts';

async function archiveTo(dir: string, publicKey: string): Promise<string> {
  const source = path.join(dir, 'source.txt');
  writeFileSync(source, 'hello recipient');
  const file = path.join(dir, 'r.backup');
  const out = createWriteStream(file);
  await writeArchive(out, [{ name: 'source.txt', file: source, size: 15 }], { recipient: parseRecipient(publicKey) }, {}, 0);
  if (!out.writableFinished) await once(out, 'finish');
  return file;
}

const copy = (file: string, name: string, change: (b: Buffer) => void) => {
  const bytes = readFileSync(file);
  change(bytes);
  const to = path.join(path.dirname(file), name);
  writeFileSync(to, bytes);
  return to;
};

describe('backup archive to an X25519 recipient', () => {
  it('opens with its identity only; no passphrase, other identity, flipped byte or cut opens it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sealgate-recipient-'));
    const pair = generateBackupKeyPair();
    expect(pair.publicKey).toMatch(/^sealgate-backup-x25519:[A-Za-z0-9_-]{43}$/);
    const file = await archiveTo(dir, pair.publicKey);
    const header = readFileSync(file, 'utf8').split('\n')[0];
    expect(header).toMatch(/^SEALGATE-BACKUP 1 \{"recipient":\{"name":"x25519"/);
    expect(header).not.toContain(pair.identity.split('\n')[1].split(':')[1]); // the private key is not in it
    expect(readFileSync(file).includes(Buffer.from('hello recipient'))).toBe(false);

    const manifest = await readArchive(file, { identity: parseIdentity(pair.identity) }, path.join(dir, 'out'));
    expect(manifest.files.map((f) => f.name)).toEqual(['source.txt']);
    expect(readFileSync(path.join(dir, 'out', 'source.txt'), 'utf8')).toBe('hello recipient');

    const other = parseIdentity(generateBackupKeyPair().identity);
    await expect(readArchive(file, { identity: other }, path.join(dir, 'o1'))).rejects.toThrow(/this identity does not open the backup/);
    await expect(readArchive(file, 'some passphrase', path.join(dir, 'o2'))).rejects.toThrow(/made to a recipient key: open it with --identity/);

    const mine = { identity: parseIdentity(pair.identity) };
    const body = copy(file, 'body.backup', (b) => { b[b.length - 40] ^= 1; });
    await expect(readArchive(body, mine, path.join(dir, 'o3'))).rejects.toBeInstanceOf(BackupError);
    // A flipped byte in the sealed file key (the header's "wrapped" value).
    const wrappedAt = header.indexOf('"wrapped":"') + 15;
    const sealed = copy(file, 'sealed.backup', (b) => { b[wrappedAt] = b[wrappedAt] === 0x41 ? 0x42 : 0x41; });
    await expect(readArchive(sealed, mine, path.join(dir, 'o4'))).rejects.toThrow(/cannot be opened with this identity|damaged/);
    const epkAt = header.indexOf('"epk":"') + 10;
    const epk = copy(file, 'epk.backup', (b) => { b[epkAt] = b[epkAt] === 0x41 ? 0x42 : 0x41; });
    await expect(readArchive(epk, mine, path.join(dir, 'o5'))).rejects.toThrow(/cannot be opened with this identity|damaged/);
    const cut = copy(file, 'cut.backup', () => {});
    truncateSync(cut, statSync(cut).size - 20);
    await expect(readArchive(cut, mine, path.join(dir, 'o6'))).rejects.toBeInstanceOf(BackupError);
  });

  it('a passphrase archive is not opened by an identity', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sealgate-recipient-'));
    writeFileSync(path.join(dir, 's'), 'x');
    const file = path.join(dir, 'p.backup');
    const out = createWriteStream(file);
    await writeArchive(out, [{ name: 's', file: path.join(dir, 's'), size: 1 }], 'a long backup passphrase', {}, 0, { scryptLogN: 14 });
    if (!out.writableFinished) await once(out, 'finish');
    await expect(readArchive(file, { identity: parseIdentity(generateBackupKeyPair().identity) }, path.join(dir, 'o'))).rejects.toThrow(/locked with a passphrase/);
  });

  it('refuses keys that are not ours, in words', () => {
    expect(() => parseRecipient('age1qqqq')).toThrow(/starting sealgate-backup-x25519:/);
    expect(() => parseRecipient('sealgate-backup-x25519:short')).toThrow(BackupError);
    expect(() => parseIdentity('# nothing\n')).toThrow(/no line starting SEALGATE-BACKUP-IDENTITY-X25519:/);
    const pair = generateBackupKeyPair();
    expect(parseRecipient(pair.publicKey).asymmetricKeyType).toBe('x25519');
    expect(parseIdentity(pair.identity).asymmetricKeyType).toBe('x25519');
  });
});
