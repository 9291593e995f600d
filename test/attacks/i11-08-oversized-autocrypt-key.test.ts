import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { e2eInboundRig, plainMessage, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: key harvesting is work a stranger can order. An Autocrypt header may fill the whole
 * header block (1 MB): one key with thousands of user IDs, each self-signature verified when
 * the key store reads it (a second of CPU on the event loop per message, and a key that large
 * read again for every later message from the address). Autocrypt asks for a minimal key
 * (primary key, one user ID, one encryption subkey: a few KB); a bigger one counts as no
 * header, and is neither parsed nor stored. A normal one from the next sender still is.
 */
describe('i11-08 an Autocrypt header with a huge key', () => {
  const rig = e2eInboundRig('i11-08');

  function autocrypt(address: string, key: Uint8Array): string {
    return `Autocrypt: addr=${address}; keydata=\r\n ${Buffer.from(key).toString('base64').replace(/(.{76})/g, '$1\r\n ')}`;
  }

  async function listed(address: string): Promise<string> {
    return (await rig.gateway.cli('keys', 'list', address)).stdout;
  }

  it('neither parses nor stores the huge key, and still learns a small one', async () => {
    const port = rig.gateway.ports.inbound;
    const userIDs = [{ email: 'carol@sender.test' }, ...Array.from({ length: 2500 }, (_, i) => ({ email: `u${i}@sender.test` }))];
    const huge = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs, format: 'binary', date: new Date(Date.now() - 60_000) });
    expect(huge.publicKey.length).toBeGreaterThan(256 * 1024);
    const small = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'dave@sender.test' }], format: 'binary', date: new Date(Date.now() - 60_000) });
    expect(await sendInbound(port, 'carol@sender.test', ['bob@corp.test'], plainMessage('carol@sender.test', 'bob@corp.test', 'hi', 'key', [autocrypt('carol@sender.test', huge.publicKey)]))).toMatch(/^250/);
    expect(await sendInbound(port, 'dave@sender.test', ['bob@corp.test'], plainMessage('dave@sender.test', 'bob@corp.test', 'hi', 'key', [autocrypt('dave@sender.test', small.publicKey)]))).toMatch(/^250/);
    await rig.rx.until(2, 15_000);
    // Harvests run after the 250, one per message; give the huge one the time it took to read (about a second).
    for (let i = 0; i < 40 && !/autocrypt/.test(await listed('dave@sender.test')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await listed('dave@sender.test')).toMatch(/autocrypt/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await listed('carol@sender.test')).not.toMatch(/autocrypt/);
  }, 60_000);
});
