import { describe, expect, it } from 'vitest';
import { e2eInboundRig, pgpProtect, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: a replay the ledger should know. alice's signed order carries its Message-ID
 * twice: the protected one inside the signed part (RFC 9788, hp="clear"), which the signature
 * covers, and a copy outside, which nothing covers. An attacker who resends the order with a
 * fresh outer Message-ID must still be caught: the ledger keys on the signed one.
 */
describe('i11-06 a signed message replayed under a new outer Message-ID', () => {
  const rig = e2eInboundRig('i11-06');

  it('flags the copy whose outer Message-ID was changed', async () => {
    const port = rig.gateway.ports.inbound;
    const signed = await pgpProtect(plainMessage('alice@sender.test', 'bob@corp.test', 'order', 'ship 10 crates'), { signer: rig.parties.sender });
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], signed)).toMatch(/^250/);
    const text = signed.toString('latin1');
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^Message-ID: /m);
    const replayed = Buffer.from(head.replace(/^Message-ID: .*$/m, 'Message-ID: <fresh-1@attack.test>') + text.slice(head.length), 'latin1');
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], replayed)).toMatch(/^250/);
    await rig.rx.until(2, 15_000);
    const fields = rig.rx.transactions().map((t) => resultFields(t.data)[0]);
    expect(fields[0]).toMatch(/signature=valid.*replay=no/);
    expect(fields[1]).toMatch(/signature=valid.*replay=yes/);
  });
});
