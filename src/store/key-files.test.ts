import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { filesUnder } from '../../test/helpers/ports.ts';
import { openKeyFiles } from './key-files.ts';

describe('key files', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('keeps a key until it is destroyed, then no file holds it', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keys-'));
    const keys = openKeyFiles(dir);
    await keys.put('message-one', Buffer.from('sealed key one'));
    expect((await keys.get('message-one'))?.toString()).toBe('sealed key one');
    expect(await keys.idsOlderThan(-1000)).toEqual(['message-one']);
    expect(await keys.idsOlderThan(60_000)).toEqual([]);
    await keys.destroy('message-one');
    expect(await keys.get('message-one')).toBeNull();
    expect(filesUnder(dir)).toEqual([]);
    await expect(keys.put('../escape', Buffer.alloc(1))).rejects.toThrow(/invalid key id/);
  });

  it('reads a key another instance wrote (a delivery thread), and refuses a FIFO, a link or a folder at a key name without blocking', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keys-'));
    await openKeyFiles(dir).put('bbMessage1', Buffer.from('sealed by intake'));
    const other = openKeyFiles(dir);
    expect((await other.get('bbMessage1'))?.toString()).toBe('sealed by intake');
    mkdirSync(path.join(dir, 'cc'));
    // A FIFO with no writer: a blocking open() on the event loop would never return.
    execFileSync('mkfifo', [path.join(dir, 'cc', 'ccFifo0001')]);
    await expect(other.get('ccFifo0001')).rejects.toThrow(/not a regular file/);
    writeFileSync(path.join(dir, 'cc', 'target'), 'not a key');
    symlinkSync(path.join(dir, 'cc', 'target'), path.join(dir, 'cc', 'ccLink0001'));
    await expect(other.get('ccLink0001')).rejects.toThrow(/symbolic link/);
    mkdirSync(path.join(dir, 'cc', 'ccFolder01'));
    await expect(other.get('ccFolder01')).rejects.toThrow(/not a regular file/);
    writeFileSync(path.join(dir, 'cc', 'ccHuge0001'), Buffer.alloc(64 * 1024));
    await expect(other.get('ccHuge0001')).rejects.toThrow(/not a regular file of a key's size/);
    expect(await other.get('ccMissing1')).toBeNull();
  });

  it('makes a shard folder only when it is missing, also when it went away, and destroying a missing key is no error', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keys-'));
    const keys = openKeyFiles(dir);
    await keys.put('aaMessage1', Buffer.from('one'));
    await keys.put('aaMessage2', Buffer.from('two'));
    // Owner-only, and never written over: a second put of an id is refused, not a torn key.
    expect(statSync(path.join(dir, 'aa', 'aaMessage2')).mode & 0o777).toBe(0o600);
    await expect(keys.put('aaMessage2', Buffer.from('again'))).rejects.toThrow(/EEXIST/);
    expect((await keys.get('aaMessage2'))?.toString()).toBe('two');
    expect(filesUnder(dir).map((f) => path.relative(dir!, f)).sort()).toEqual(['aa/aaMessage1', 'aa/aaMessage2']);
    rmSync(path.join(dir, 'aa'), { recursive: true });
    await keys.put('aaMessage3', Buffer.from('three'));
    expect((await keys.get('aaMessage3'))?.toString()).toBe('three');
    await keys.destroy('aaMessage1');
    await keys.destroy('aaMessage3');
    expect(filesUnder(dir)).toEqual([]);
  });

  it('says whether a key was there; a key another process destroyed is not served from memory', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-keys-'));
    const writer = openKeyFiles(dir);
    const other = openKeyFiles(dir); // another process: no memory of the writer's keys
    await writer.put('message-two', Buffer.from('sealed key two'));
    expect((await other.get('message-two'))?.toString()).toBe('sealed key two');
    expect(await other.destroy('message-two')).toBe(true);
    expect(await other.destroy('message-two')).toBe(false);
    expect(await writer.get('message-two'), 'the writer does not serve it from memory').toBeNull();
  });
});
