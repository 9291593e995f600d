import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { filesUnder, until } from '../../test/helpers/ports.ts';
import { openKeyFiles } from './key-files.ts';
import { KeySlots } from './key-slots.ts';

describe('key slots (key files made ahead)', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('hands out ids whose files exist at the sealed size, one shard folder per batch, and a put fills the file in place', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-slots-'));
    const keys = openKeyFiles(dir, { slots: { bytes: 12, idLength: 16 } });
    // None made yet: the first caller picks its own id, and the batch starts.
    expect(keys.newId!()).toBeUndefined();
    await until(() => filesUnder(dir!).length === 64, 10_000, 'a batch of 64 slots');
    const id = keys.newId!()!;
    expect(id).toMatch(/^[A-Za-z0-9]{16}$/);
    const file = path.join(dir, id.slice(0, 2), id);
    expect(statSync(file).size).toBe(12);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(new Set(filesUnder(dir).map((f) => path.basename(path.dirname(f)))).size).toBe(1);
    const inode = statSync(file).ino;
    await keys.put(id, Buffer.from('sealed12byte'));
    expect(readFileSync(file, 'utf8')).toBe('sealed12byte');
    expect(statSync(file).ino).toBe(inode); // the same file, written over: no new name to sync
    expect((await keys.get(id))?.toString()).toBe('sealed12byte');
    // Filled once: a second put of the id is refused as for any key file, not written over.
    await expect(keys.put(id, Buffer.from('other12bytes'))).rejects.toThrow(/EEXIST/);
    await keys.destroy(id);
    expect(readdirSync(path.dirname(file))).not.toContain(id);
  });

  it('leaves a key of another size, an id it never handed out, and a slot whose file went to the ordinary put', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-slots-'));
    const slots = new KeySlots(dir, 12, 16, (id) => path.join(dir!, id.slice(0, 2), id));
    slots.take();
    await until(() => filesUnder(dir!).length === 64, 10_000, 'a batch of 64 slots');
    const a = slots.take()!;
    const b = slots.take()!;
    expect(await slots.fill(a, Buffer.from('too long for the slot'))).toBe(false);
    expect(await slots.fill('notHandedOut0000', Buffer.from('sealed12byte'))).toBe(false);
    unlinkSync(path.join(dir, b.slice(0, 2), b)); // the sweep took it meanwhile
    expect(await slots.fill(b, Buffer.from('sealed12byte'))).toBe(false);
    const keys = openKeyFiles(dir);
    await keys.put(b, Buffer.from('sealed12byte'));
    expect((await keys.get(b))?.toString()).toBe('sealed12byte');
  });

  it('never hands out a slot older than ten minutes (the stray-key sweep takes keys an hour old), and removes it', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-slots-'));
    const slots = new KeySlots(dir, 12, 16, (id) => path.join(dir!, id.slice(0, 2), id));
    slots.take();
    await until(() => filesUnder(dir!).length === 64, 10_000, 'a batch of 64 slots');
    const first = filesUnder(dir);
    const later = Date.now() + 10 * 60_000 + 1_000;
    // All 64 stale: none handed out, their files removed, a new batch started.
    expect(slots.take(later)).toBeUndefined();
    await until(() => filesUnder(dir!).length === 64 && !filesUnder(dir!).some((f) => first.includes(f)), 10_000, 'a fresh batch in place of the stale one');
    const fresh = slots.take()!;
    expect(first.some((f) => f.endsWith(fresh))).toBe(false);
  });
});
