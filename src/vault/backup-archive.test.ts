import { mkdtempSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/index.ts';
import { BackupError, readArchive, writeArchive } from './index.ts';

const PASS = 'a long backup passphrase';

async function archive(dir: string, name: string, options?: { scryptLogN?: number }): Promise<string> {
  const source = path.join(dir, 'source.txt');
  writeFileSync(source, 'hello');
  const file = path.join(dir, name);
  const out = createWriteStream(file);
  await writeArchive(out, [{ name: 'source.txt', file: source, size: 5 }], PASS, {}, 0, options);
  if (!out.writableFinished) await once(out, 'finish');
  return file;
}

const headerN = (file: string) => (JSON.parse(readFileSync(file, 'utf8').split('\n')[0].replace(/^SEALGATE-BACKUP 1 /, '')) as { kdf: { N: number } }).kdf.N;

describe('backup archive scrypt cost', () => {
  it('is 2^17 by default, in the config too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sealgate-archive-'));
    expect(headerN(await archive(dir, 'default.backup'))).toBe(2 ** 17);
    expect(configSchema.parse({}).backup.scryptLogN).toBe(17);
  });

  it('takes a lower cost from backup.scryptLogN, and the reader takes it from the header', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sealgate-archive-'));
    const file = await archive(dir, 'cheap.backup', { scryptLogN: 14 });
    expect(headerN(file)).toBe(2 ** 14);
    const manifest = await readArchive(file, PASS, path.join(dir, 'out'));
    expect(manifest.files.map((f) => f.name)).toEqual(['source.txt']);
    await expect(readArchive(file, 'not the passphrase', path.join(dir, 'wrong'))).rejects.toBeInstanceOf(BackupError);
  });

  it('refuses a cost below 2^14, in the config and when asked directly', async () => {
    expect(configSchema.safeParse({ backup: { scryptLogN: 13 } }).success).toBe(false);
    expect(configSchema.safeParse({ backup: { scryptLogN: 21 } }).success).toBe(false);
    const dir = mkdtempSync(path.join(tmpdir(), 'sealgate-archive-'));
    await expect(archive(dir, 'weak.backup', { scryptLogN: 10 })).rejects.toThrow(/outside 2\^14\.\.2\^20/);
  });
});
