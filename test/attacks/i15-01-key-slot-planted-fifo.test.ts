import { spawn, execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openKeyFiles } from '../../src/store/index.ts';
import { filesUnder, until } from '../helpers/ports.ts';

/*
 * Issue 14 (attack pass 15): the slot put (key-slots.ts `fill`) now opens its file with a
 * synchronous open() on the event loop, O_WRONLY without O_NONBLOCK. A FIFO planted at a ready
 * slot's name (anyone who can write in the key folder: the same reach as i14-40's links) makes
 * that open wait for a reader, and on the event loop that is the whole gateway: no SMTP session,
 * no portal, no health check answers, for as long as nobody opens the FIFO for reading (forever).
 * Here a helper opens it for reading after 1.5 s, so the test ends either way; the put must not
 * have held the loop meanwhile, and must make a key file of its own at the name.
 */
const SEALED = Buffer.from('sealed12byte');

describe('i15-01 a FIFO planted at a key slot', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('the put neither blocks the event loop in open() nor writes into the FIFO', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'i15-01-'));
    const keyDir = path.join(dir, 'queue-keys');
    const keys = openKeyFiles(keyDir, { slots: { bytes: SEALED.length, idLength: 16 } });
    expect(keys.newId!()).toBeUndefined();
    await until(() => filesUnder(keyDir).length === 64, 10_000, 'a batch of slots made');
    // The files appear before the batch is synced and handed out: wait for a slot, not for files.
    let id: string | undefined;
    await until(() => (id = keys.newId!()) !== undefined, 10_000, 'a slot ready');
    if (!id) throw new Error('no slot');
    const file = path.join(keyDir, id.slice(0, 2), id);
    unlinkSync(file);
    execFileSync('mkfifo', ['-m', '600', file]);
    // The reader that frees a blocked open; it reads whatever is at the name then (the key file, after the fix).
    const reader = spawn('sh', ['-c', 'sleep 1.5; exec timeout 5 cat "$0" > /dev/null', file], { stdio: 'ignore' });
    const exited = new Promise((resolve) => reader.once('exit', resolve));
    const began = performance.now();
    const put = keys.put(id, SEALED);
    const heldMs = performance.now() - began;
    await put;
    await exited;
    expect(heldMs, 'the event loop was held in open() until a reader came').toBeLessThan(500);
    expect(lstatSync(file).isFile(), 'the key is a regular file of its own').toBe(true);
    expect(readFileSync(file)).toEqual(SEALED);
    expect(await keys.get(id)).toEqual(SEALED);
  }, 20_000);
});
