import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { e2eInboundRig, pgpProtect, plainMessage, resultFields, sendInbound } from '../helpers/e2e-inbound.ts';

/*
 * Issue 11: protected inbound mail is held in memory until the end of DATA (it must be opened
 * before the 250). An attacker's answer is size: one message past the size limit, or many at
 * once. The first is refused as any oversized mail (552), the second by a budget over all
 * sessions (452, try later), and neither leaves anything behind: the next message is served.
 * A third: a small ciphertext whose compressed plaintext is huge (refused, 552: the limit
 * holds for what would be stored).
 * Two Content-Type fields (readers differ on which counts) get no verdict at all.
 */
describe('i11-03 huge and ambiguous protected messages', () => {
  const rig = e2eInboundRig('i11-03', { config: { limits: { maxMessageBytes: 1024 * 1024 }, e2e: { inbound: { maxBufferedMegabytes: 1 } } } });
  const header = 'From: alice@sender.test\r\nTo: bob@corp.test\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n\r\n--b\r\n';
  const filler = (bytes: number) => `${'A'.repeat(76)}\r\n`.repeat(Math.ceil(bytes / 78));

  it('refuses one past the size limit and a stream of them past the buffer budget, then serves the next', async () => {
    const port = rig.gateway.ports.inbound;
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], Buffer.from(header + filler(1.2 * 1024 * 1024)))).toMatch(/^552 5\.3\.4 /);
    // One held open in DATA with 0.8 MB; a second 0.5 MB meanwhile passes the 1 MB budget.
    const held = await RawSmtp.connect(port);
    await held.command('EHLO mx.attacker.test');
    await held.command('MAIL FROM:<alice@sender.test>');
    await held.command('RCPT TO:<bob@corp.test>');
    expect(await held.command('DATA')).toMatch(/^354/);
    held.write(header + filler(0.8 * 1024 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], Buffer.from(header + filler(0.5 * 1024 * 1024)))).toMatch(/^452 4\.3\.1 .*try again later/);
    // The held one ends: not a readable PGP/MIME message, so it is stored as it came.
    held.write('--b--\r\n.\r\n');
    expect(await held.reply(30_000)).toMatch(/^250/);
    held.close();
    await rig.rx.until(1, 15_000);
    // The budget was given back: a real message for bob is opened.
    const sealed = await pgpProtect(plainMessage('alice@sender.test', 'bob@corp.test', 'small', 'after the flood'), { encryptTo: [{ address: 'bob@corp.test', data: rig.parties.userPublic('bob@corp.test') }] });
    expect(await sendInbound(port, 'alice@sender.test', ['bob@corp.test'], sealed)).toMatch(/^250/);
    await rig.rx.until(2, 15_000);
    const data = rig.rx.transactions()[1].data;
    expect(data.toString('latin1')).toContain('after the flood');
    expect(resultFields(data)[0]).toMatch(/decrypted=yes/);
  });

  it('refuses a small ciphertext that decompresses past the size limit', async () => {
    const plaintext = plainMessage('alice@sender.test', 'bob@corp.test', 'bomb', `${'A'.repeat(998)}\r\n`.repeat(2048));
    const encryptionKeys = await openpgp.readKey({ binaryKey: rig.parties.userPublic('bob@corp.test') });
    const armored = await openpgp.encrypt({ message: await openpgp.createMessage({ binary: plaintext }), encryptionKeys, config: { preferredCompressionAlgorithm: openpgp.enums.compression.zlib } });
    expect(armored.length).toBeLessThan(64 * 1024);
    const message = `${header}Content-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n${armored.replace(/\r?\n/g, '\r\n')}\r\n--b--\r\n`;
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], Buffer.from(message))).toMatch(/^552 5\.3\.4 The decrypted message exceeds the size limit/);
  });

  it('gives no verdict on a message with two Content-Type fields', async () => {
    const before = rig.rx.transactions().length;
    const signed = (await pgpProtect(plainMessage('alice@sender.test', 'bob@corp.test', 'two types', 'signed words'), { signer: rig.parties.sender })).toString('latin1');
    // A reader that takes the second field shows the whole body as text, preamble included.
    const ambiguous = signed.replace('Content-Type: multipart/signed', 'Content-Type: text/plain\r\nContent-Type: multipart/signed');
    expect(await sendInbound(rig.gateway.ports.inbound, 'alice@sender.test', ['bob@corp.test'], Buffer.from(ambiguous, 'latin1'))).toMatch(/^250/);
    await rig.rx.until(before + 1, 15_000);
    expect(resultFields(rig.rx.transactions()[before].data)).toEqual([]);
  });
});
