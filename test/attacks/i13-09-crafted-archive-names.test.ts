import { randomBytes, scryptSync } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { EncryptStream, keyObject } from '../../src/vault/index.ts';
import { tempDir } from '../helpers/ports.ts';
import { sealgate } from '../integration/12-cli/run-cli.ts';

/*
 * Issue 13 "Backup", attacker's pass (held, pinned): an archive made by hand with the right
 * passphrase (so every chunk authenticates) whose entry names climb out (`../`, absolute,
 * `blobs/../../`, backslashes, `.`), or name one file twice. The format has no links, modes or
 * owners to abuse, so the names are the whole surface: `sealgate backup restore` refuses each
 * (exit 65), and nothing appears outside the data dir nor in it (that held). What did not:
 * the reason. Stopping the decryption after the bad entry made its "Premature close" the
 * error, so the restore said `reading the backup failed: Premature close` instead of naming
 * the malformed entry (so would any error while writing an entry out).
 */
const temp = tempDir('sealgate-i13-09-');
const PASSPHRASE = 'a long backup passphrase';
afterAll(() => temp.cleanup());

/** The archive format, written by hand: header line, then the chunked stream of `plain`. */
async function craft(file: string, plain: string): Promise<void> {
  const kdf = { N: 2 ** 14, r: 8, p: 1 };
  const salt = randomBytes(16);
  const key = keyObject(scryptSync(PASSPHRASE, salt, 32, { ...kdf, maxmem: 256 * 1024 * 1024 }));
  const encrypt = new EncryptStream(key);
  const chunks: Buffer[] = [];
  encrypt.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => encrypt.on('end', resolve));
  encrypt.end(Buffer.from(plain));
  await done;
  writeFileSync(file, Buffer.concat([Buffer.from(`SEALGATE-BACKUP 1 ${JSON.stringify({ kdf: { name: 'scrypt', salt: salt.toString('base64'), ...kdf } })}\n`), ...chunks]));
}

it('refuses entry names that leave the target, and duplicates, writing nothing', async () => {
  const passFile = path.join(temp.dir, 'pass');
  writeFileSync(passFile, PASSPHRASE);
  const manifest = (names: string[]) => `END ${JSON.stringify({ created: 0, about: { dialect: 'sqlite' }, files: names.map((name) => ({ name, size: 3, sha256: 'x' })) })}\n`;
  const hostile = ['../escape', '/tmp/escape-abs', 'blobs/../../escape', 'blobs/..', '..\\escape', '.', 'blobs//escape', 'blobs/./x'];
  let n = 0;
  for (const name of hostile) {
    const file = path.join(temp.dir, `crafted-${n}.backup`);
    await craft(file, `FILE ${name} 3\nabc${manifest([name])}`);
    const dataDir = path.join(temp.dir, `target-${n}`, 'data');
    const config = path.join(temp.dir, `target-${n++}.json`);
    writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir, web: { enabled: false } }));
    const run = await sealgate(temp.dir, ['backup', 'restore', file, '--passphrase-file', passFile, '--config', config]);
    expect(run, name).toMatchObject({ code: 65, stderr: expect.stringMatching(/the backup is malformed \(an entry header is wrong\)/) });
    expect(existsSync(dataDir) ? readdirSync(dataDir, { recursive: true }) : [], name).toEqual([]);
  }
  expect(readdirSync(temp.dir).filter((f) => f.includes('escape'))).toEqual([]);
  expect(existsSync('/tmp/escape-abs')).toBe(false);

  // The same name twice (a second master key after the checked one).
  const twice = path.join(temp.dir, 'twice.backup');
  await craft(twice, `FILE master.key 3\nabcFILE master.key 3\nxyz${manifest(['master.key'])}`);
  const config = path.join(temp.dir, 'twice.json');
  writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'twice', 'data'), web: { enabled: false } }));
  expect(await sealgate(temp.dir, ['backup', 'restore', twice, '--passphrase-file', passFile, '--config', config])).toMatchObject({ code: 65 });
  expect(readdirSync(path.join(temp.dir, 'twice', 'data'), { recursive: true })).toEqual([]);
}, 120_000);
