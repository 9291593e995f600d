import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { writeArchive } from '../../src/vault/index.ts';
import { tempDir } from '../helpers/ports.ts';
import { SEALGATE, sealgate } from '../integration/12-cli/run-cli.ts';

/*
 * Issue 13 "Backup", attacker's pass: a restore decrypts into a work folder in the data dir
 * (`.restore-*`: the master key, the database, the queue's body keys, in plaintext). Ctrl-C or
 * SIGTERM during a long restore killed Node without running its clean-up, so that folder
 * stayed: a copy of every body key of the backup's time that no later delivery, retraction
 * or purge deletes (crypto-shredding undone for a copy of the data dir); `create` likewise left
 * its database snapshot (`.backup-*`) and a `.partial` archive that blocked the next run. Now a
 * signal removes the work folder and whatever the command had written (exit 130/143), and a
 * restore clears work folders a SIGKILL left.
 */
const temp = tempDir('sealgate-i13-11-');
const PASSPHRASE = 'a long backup passphrase';
const KEY_MATERIAL = 'QUEUE-BODY-KEY-0123456789';
afterAll(() => temp.cleanup());

/** Every file's bytes under `dir` joined: what a copy of the data dir would hold. */
function contentUnder(dir: string): Buffer {
  if (!existsSync(dir)) return Buffer.alloc(0);
  return Buffer.concat(readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => readFileSync(path.join(e.parentPath, e.name))));
}

it('a restore or create stopped by a signal leaves no plaintext work folder and nothing half written', async () => {
  const passFile = path.join(temp.dir, 'pass');
  writeFileSync(passFile, PASSPHRASE);
  const source = path.join(temp.dir, 'source.json');
  writeFileSync(source, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: path.join(temp.dir, 'source', 'data'), web: { enabled: false } }));
  expect((await sealgate(temp.dir, ['init', '--config', source])).code).toBe(0);
  // A backup as create writes it, with a body key and a large body (so the restore takes a while).
  const files = path.join(temp.dir, 'files');
  mkdirSync(files);
  writeFileSync(path.join(files, 'key'), KEY_MATERIAL);
  writeFileSync(path.join(files, 'big'), Buffer.alloc(48 * 1024 * 1024, 1));
  const entry = (name: string, file: string) => ({ name, file, size: statSync(file).size });
  const archive = path.join(temp.dir, 'long.backup');
  const out = createWriteStream(archive);
  await writeArchive(out, [
    entry('master.key', path.join(temp.dir, 'source', 'data', 'master.key')),
    entry('database.sqlite', path.join(temp.dir, 'source', 'data', 'sealgate.db')),
    entry('queue-keys/m1', path.join(files, 'key')),
    entry('blobs/m1', path.join(files, 'big')),
  ], PASSPHRASE, { dialect: 'sqlite' }, Date.now(), { scryptLogN: 14 });
  if (!out.writableFinished) await once(out, 'finish');

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const dataDir = path.join(temp.dir, signal, 'data');
    const config = path.join(temp.dir, `${signal}.json`);
    writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir, web: { enabled: false } }));
    const child = spawn(process.execPath, [SEALGATE, 'backup', 'restore', archive, '--passphrase-file', passFile, '--config', config], { stdio: 'ignore' });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // Signalled once the body key is out in the work folder, while the large body still decrypts.
    const workKey = () => existsSync(dataDir) && readdirSync(dataDir).some((d) => d.startsWith('.restore-') && existsSync(path.join(dataDir, d, 'queue-keys', 'm1')));
    for (let waited = 0; !workKey() && child.exitCode === null && waited < 60_000; waited += 2) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(child.exitCode, `${signal}: the restore was still running when signalled`).toBeNull();
    child.kill(signal);
    const [code, bySignal] = await exited;
    expect(readdirSync(dataDir).filter((d) => d.startsWith('.restore-')), signal).toEqual([]);
    expect(contentUnder(dataDir).includes(Buffer.from(KEY_MATERIAL)), `${signal}: the body key still in the data dir`).toBe(false);
    expect(existsSync(path.join(dataDir, 'master.key')), signal).toBe(false);
    expect({ code, bySignal }, signal).toEqual({ code: signal === 'SIGINT' ? 130 : 143, bySignal: null });
  }

  // The same for create: its database snapshot (in .backup-*) and the half-written archive.
  mkdirSync(path.join(temp.dir, 'source', 'data', 'blobs'), { recursive: true });
  writeFileSync(path.join(temp.dir, 'source', 'data', 'blobs', 'big'), Buffer.alloc(48 * 1024 * 1024, 2));
  const target = path.join(temp.dir, 'stopped.backup');
  const creating = spawn(process.execPath, [SEALGATE, 'backup', 'create', target, '--passphrase-file', passFile, '--config', source], { stdio: 'ignore' });
  const created = once(creating, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const sourceDir = path.join(temp.dir, 'source', 'data');
  for (let waited = 0; !existsSync(`${target}.partial`) && creating.exitCode === null && waited < 60_000; waited += 2) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(creating.exitCode, 'create was still running when signalled').toBeNull();
  creating.kill('SIGINT');
  expect(await created).toEqual([130, null]);
  expect(readdirSync(sourceDir).filter((d) => d.startsWith('.backup-'))).toEqual([]);
  expect(readdirSync(temp.dir).filter((f) => f.startsWith('stopped.backup'))).toEqual([]);

  // A work folder a SIGKILL left behind goes at the next restore.
  const dataDir = path.join(temp.dir, 'killed', 'data');
  mkdirSync(path.join(dataDir, '.restore-Ab12Cd', 'queue-keys'), { recursive: true });
  writeFileSync(path.join(dataDir, '.restore-Ab12Cd', 'queue-keys', 'm1'), KEY_MATERIAL);
  const config = path.join(temp.dir, 'killed.json');
  writeFileSync(config, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir, web: { enabled: false } }));
  const run = await sealgate(temp.dir, ['backup', 'restore', archive, '--passphrase-file', passFile, '--config', config]);
  expect(run.code, run.stderr).toBe(0);
  expect(readdirSync(dataDir).filter((d) => d.startsWith('.restore-'))).toEqual([]);
  expect(readFileSync(path.join(dataDir, 'queue-keys', 'm1'), 'utf8')).toBe(KEY_MATERIAL); // the restored one
}, 180_000);
