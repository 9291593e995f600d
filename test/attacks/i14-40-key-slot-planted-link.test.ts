import { linkSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openKeyFiles } from '../../src/store/index.ts';
import { filesUnder, until } from '../helpers/ports.ts';

/*
 * Issue 14 (attack pass): key files are made ahead (key-slots.ts) and a put overwrites a
 * slot in place. The ordinary put creates its file with O_EXCL, which never follows a link;
 * the in-place overwrite opened the slot's name as it found it. A symlink planted at a
 * ready slot's name (pointing at master.key, the database) made the put write the sealed key
 * into that file; a hard link to the slot (a `cp -al` snapshot of the data dir, another
 * message's key file) got the key into an inode that the message's destroy (an unlink of
 * its one name) never reaches, so a copy made before the message arrived held its key for
 * good. The put must write a file of its own at the name, and leave the other ends alone.
 */
const SEALED = Buffer.from('sealed12byte');

describe('i14-40 a link planted at a key slot', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  async function readySlots() {
    dir = mkdtempSync(path.join(tmpdir(), 'i14-40-'));
    const keyDir = path.join(dir, 'queue-keys');
    const keys = openKeyFiles(keyDir, { slots: { bytes: SEALED.length, idLength: 16 } });
    expect(keys.newId!()).toBeUndefined();
    await until(() => filesUnder(keyDir).length === 64, 10_000, 'a batch of slots made');
    return { keys, fileOf: (id: string) => path.join(keyDir, id.slice(0, 2), id) };
  }

  it('a symlink at the slot: the put does not write through it', async () => {
    const { keys, fileOf } = await readySlots();
    const victim = path.join(dir!, 'master.key');
    writeFileSync(victim, 'the master key, 32 bytes of it..', { mode: 0o600 });
    const id = keys.newId!()!;
    unlinkSync(fileOf(id));
    symlinkSync(victim, fileOf(id));
    await keys.put(id, SEALED);
    expect(readFileSync(victim, 'utf8'), 'the link target is untouched').toBe('the master key, 32 bytes of it..');
    expect(lstatSync(fileOf(id)).isFile(), 'the key is a file of its own').toBe(true);
    expect(readFileSync(fileOf(id))).toEqual(SEALED);
    expect(statSync(fileOf(id)).mode & 0o777).toBe(0o600);
    expect(await keys.get(id)).toEqual(SEALED);
  });

  it('a hard link to the slot: the key lands in no other name, and its destroy leaves none behind', async () => {
    const { keys, fileOf } = await readySlots();
    const snapshot = path.join(dir!, 'snapshot-of-slot');
    const id = keys.newId!()!;
    linkSync(fileOf(id), snapshot);
    await keys.put(id, SEALED);
    expect(readFileSync(snapshot), 'the earlier copy still holds the zeros it was made with').toEqual(Buffer.alloc(SEALED.length));
    expect(readFileSync(fileOf(id))).toEqual(SEALED);
    expect(statSync(fileOf(id)).nlink).toBe(1);
    expect(await keys.destroy(id)).toBe(true);
    expect(readFileSync(snapshot).includes(SEALED)).toBe(false);
  });
});
