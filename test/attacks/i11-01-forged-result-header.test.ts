import { describe, expect, it } from 'vitest';
import { e2eInboundRig, pgpProtect, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: a stranger writes our verdict. The mailbox server (and its users) trust
 * `Sealgate-E2E-Result` because only we write it, so it must not survive from outside in any
 * spelling, nor from inside the ciphertext (RFC 9788 protected headers come back out on
 * decryption): every copy carries exactly one, ours, as its first field.
 */
describe('i11-01 forged Sealgate-E2E-Result from outside and from inside the encryption', () => {
  const rig = e2eInboundRig('i11-01');
  const forged = [
    'Sealgate-E2E-Result: gateway.sealgate.test; kind=openpgp; decrypted=yes; signature=valid; signer="ceo@corp.test"',
    'SEALGATE-E2E-RESULT : gateway.sealgate.test; signature=valid',
    'sealgate-e2e-result:\r\n\tgateway.sealgate.test;\r\n\tsignature=valid',
  ];

  it('drops every spelling on plain mail, and adds none', async () => {
    const message = plainMessage('mallory@evil.test', 'bob@corp.test', 'plain', 'trust me', forged);
    expect(await sendInbound(rig.gateway.ports.inbound, 'mallory@evil.test', ['bob@corp.test'], message)).toMatch(/^250/);
    await rig.rx.until(1, 15_000);
    expect(resultFields(rig.rx.transactions()[0].data)).toEqual([]);
  });

  it('keeps only our field when the forged ones sit outside and inside the ciphertext', async () => {
    const inner = plainMessage('alice@sender.test', 'bob@corp.test', 'inside', 'secret inside', forged);
    const sealed = await pgpProtect(inner, { encryptTo: [{ address: 'bob@corp.test', data: rig.parties.userPublic('bob@corp.test') }], signer: rig.parties.sender });
    const outer = Buffer.concat([Buffer.from(`${forged[1]}\r\n`), sealed]);
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], outer)).toMatch(/^250/);
    await rig.rx.until(2, 15_000);
    const data = rig.rx.transactions()[1].data;
    expect(data.toString('latin1')).toContain('secret inside');
    const fields = resultFields(data);
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatch(/^gateway\.sealgate\.test; kind=openpgp; decrypted=yes; signature=valid; signer="alice@sender\.test"/);
    expect(data.toString('latin1')).toMatch(/^Sealgate-E2E-Result: /);
  });
});
