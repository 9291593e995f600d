import { describe, expect, it } from 'vitest';
import { e2eInboundRig, pgpProtect, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: a signed message replayed. An attacker who has a copy of alice's signed order
 * sends it again, and to win a check-then-insert race, twice at the same moment. Exactly one
 * copy (of all that arrive) may read replay=no. A forged signature (unknown key, so signing
 * time and key id are the attacker's to choose) must not poison the ledger for alice's real
 * message.
 */
describe('i11-04 replayed signed mail, in parallel', () => {
  const rig = e2eInboundRig('i11-04');

  it('flags all but one of three copies, two of them sent at once', async () => {
    const port = rig.gateway.ports.inbound;
    const signed = await pgpProtect(plainMessage('alice@sender.test', 'bob@corp.test', 'order', 'ship 10 crates'), { signer: rig.parties.sender });
    const replies = await Promise.all([sendInbound(port, 'alice@sender.test', ['bob@corp.test'], signed), sendInbound(port, 'alice@sender.test', ['bob@corp.test'], signed)]);
    expect(replies.every((r) => r.startsWith('250'))).toBe(true);
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], signed)).toMatch(/^250/);
    await rig.rx.until(3, 15_000);
    const flags = rig.rx.transactions().map((t) => /replay=(\w+)/.exec(resultFields(t.data)[0] ?? '')?.[1]);
    expect(flags.sort()).toEqual(['no', 'yes', 'yes']);
    for (const t of rig.rx.transactions()) expect(resultFields(t.data)[0]).toMatch(/signature=valid/);
  });
});
