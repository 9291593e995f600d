import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeArchive } from '../../src/vault/index.ts';
import { tempDir } from '../helpers/ports.ts';
import { sealgate } from '../integration/12-cli/run-cli.ts';

/*
 * Issue 13 "Backup", attacker's pass: `sealgate backup restore` goes onto an empty data dir,
 * and a restore it refuses writes nothing. Before, "empty" meant only "no master key and no
 * database file": a data dir wiped by hand with its blobs/ left behind was restored into, the
 * old bodies mixed with the restored rows (or, when the backup had blobs too, a raw ENOTEMPTY
 * after the database and key were already in place); a stale `-wal` beside the database was
 * kept, and SQLite replays a WAL into the file it opens next to it. An archive without a master
 * key (made by hand: its manifest still matches) left a database without its key and a raw
 * "does not exist" (exit 66). Cut, flipped and wrong-passphrase archives are pinned too: the
 * data dir stays as it was.
 */
const temp = tempDir('sealgate-i13-05-');
const passFile = path.join(temp.dir, 'pass');
const archive = path.join(temp.dir, 'sealgate.backup');

/** Every path under `dir` (relative), or null when it does not exist. */
function listing(dir: string): string[] | null {
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : null;
}

/** A config for a new installation at `name`, whose data dir gets `prepare` before the restore. */
function target(name: string, prepare: (dataDir: string) => void = () => undefined): { config: string; dataDir: string } {
  const dataDir = path.join(temp.dir, name, 'data');
  const config = path.join(temp.dir, `${name}.json`);
  writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir, web: { enabled: false } }));
  prepare(dataDir);
  return { config, dataDir };
}

async function refusedRestore(file: string, name: string, prepare?: (dataDir: string) => void): Promise<{ code: number; stderr: string }> {
  const { config, dataDir } = target(name, prepare);
  const before = listing(dataDir);
  const run = await sealgate(temp.dir, ['backup', 'restore', file, '--passphrase-file', passFile, '--config', config]);
  // Nothing written: the data dir holds what it held (an absent one may now exist, empty).
  expect(listing(dataDir) ?? [], `${name}: the data dir after the refused restore`).toEqual(before ?? []);
  return run;
}

beforeAll(async () => {
  writeFileSync(passFile, 'a long backup passphrase\n');
  const source = path.join(temp.dir, 'source.json');
  writeFileSync(source, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'source', 'data'), web: { enabled: false }, backup: { scryptLogN: 14 } }));
  expect((await sealgate(temp.dir, ['init', '--config', source])).code).toBe(0);
  const made = await sealgate(temp.dir, ['backup', 'create', archive, '--passphrase-file', passFile, '--config', source]);
  expect(made.code, made.stderr).toBe(0);
}, 60_000);

afterAll(() => temp.cleanup());

describe('backup restore onto a data dir that is not empty', () => {
  it('refuses a data dir whose blobs/ still holds files, and names it', async () => {
    const run = await refusedRestore(archive, 'leftover-blobs', (dataDir) => {
      mkdirSync(path.join(dataDir, 'blobs'), { recursive: true });
      writeFileSync(path.join(dataDir, 'blobs', 'old-body'), 'a body of the installation that was wiped');
    });
    expect(run).toMatchObject({ code: 73, stderr: expect.stringMatching(/restore goes onto an empty data dir: .*blobs.* (is not empty|exists)/) });
  }, 60_000);

  it('refuses a stale SQLite WAL beside where the database goes', async () => {
    const run = await refusedRestore(archive, 'leftover-wal', (dataDir) => {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(path.join(dataDir, 'sealgate.db-wal'), Buffer.alloc(4096, 7));
    });
    expect(run).toMatchObject({ code: 73, stderr: expect.stringMatching(/sealgate\.db-wal/) });
  }, 60_000);

  it('refuses an archive without a master key before writing its database', async () => {
    const database = path.join(temp.dir, 'lone.sqlite');
    writeFileSync(database, readFileSync(path.join(temp.dir, 'source', 'data', 'sealgate.db')));
    const crafted = path.join(temp.dir, 'no-key.backup');
    const out = createWriteStream(crafted);
    await writeArchive(out, [{ name: 'database.sqlite', file: database, size: statSync(database).size }], 'a long backup passphrase', { dialect: 'sqlite' }, Date.now(), { scryptLogN: 14 });
    if (!out.writableFinished) await once(out, 'finish');
    const run = await refusedRestore(crafted, 'no-key');
    expect(run).toMatchObject({ code: 65, stderr: expect.stringMatching(/master\.key/) });
  }, 60_000);

  it('a cut, a flipped or a wrongly locked archive writes nothing', async () => {
    const bytes = readFileSync(archive);
    const cut = path.join(temp.dir, 'cut.backup');
    writeFileSync(cut, bytes);
    truncateSync(cut, bytes.length - 100);
    const flipped = path.join(temp.dir, 'flipped.backup');
    const changed = Buffer.from(bytes);
    changed[changed.length - 200] ^= 1;
    writeFileSync(flipped, changed);
    for (const [file, name] of [[cut, 'cut'], [flipped, 'flipped']] as const) {
      expect(await refusedRestore(file, name)).toMatchObject({ code: 65, stderr: expect.stringMatching(/wrong passphrase, or the file was changed or cut short/) });
    }
    writeFileSync(path.join(temp.dir, 'wrong-pass'), 'not the passphrase');
    const { config, dataDir } = target('wrong');
    const run = await sealgate(temp.dir, ['backup', 'restore', archive, '--passphrase-file', path.join(temp.dir, 'wrong-pass'), '--config', config]);
    expect(run).toMatchObject({ code: 65, stderr: expect.stringMatching(/wrong passphrase/) });
    expect(listing(dataDir) ?? []).toEqual([]);
  }, 60_000);
});
