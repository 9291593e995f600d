/**
 * Autocrypt end to end (issue 11 "Autocrypt learned from a real inbound message and then used
 * outbound"), with a real gateway process: Carol's mail arrives on the MX listener with an
 * `Autocrypt:` header; the key store learns her key (Level 1 rules); Alice's next message to
 * her, from a sender who encrypts whenever a key is known, reaches Carol's mailbox server as
 * PGP/MIME that Carol's own key decrypts, and the receipt says the route and why.
 */
import { Buffer } from 'node:buffer';
import * as openpgp from 'openpgp';
import { expect, it, describe } from 'vitest';
import { testUser } from '../../../src/e2e/openpgp/test-keys.ts';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { RawSmtp } from '../../helpers/raw-smtp.ts';
import { authenticatedSession, sendData } from '../../helpers/smtp-session.ts';

const PASSWORD = 'correct horse battery staple';
const MARKER = 'autocrypt-roundtrip-figures-7';

describe('Autocrypt learned inbound, used outbound', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'autocrypt',
    users: ['alice@corp.test'],
    password: PASSWORD,
    // Carol's domain is relayed to the same recording server (her "mailbox server"); her own mail comes in from outside.
    domains: (smarthost) => ({ 'corp.test': { smarthost, verifyRecipients: 'off' }, 'partner.test': { smarthost, verifyRecipients: 'off', allowExternalSenders: true } }),
    config: { e2e: { encrypt: { whenKeyKnown: ['*'] } } },
  });

  it('learns the key from the header and encrypts the next message to it', async () => {
    const carol = await testUser('carol@partner.test', new Date(Date.now() - 60_000));
    const keydata = Buffer.from(carol.public.data).toString('base64').replace(/(.{76})/g, '$1\r\n ');
    const inbound = await RawSmtp.connect(rig.gateway.ports.inbound);
    await inbound.command('EHLO mx.partner.test');
    expect(await inbound.command('MAIL FROM:<carol@partner.test>')).toMatch(/^250 /);
    expect(await inbound.command('RCPT TO:<alice@corp.test>')).toMatch(/^250 /);
    const hello = [
      'From: Carol <carol@partner.test>', 'To: alice@corp.test', 'Subject: hello', 'Message-ID: <ac1@partner.test>', `Date: ${new Date().toUTCString()}`,
      `Autocrypt: addr=carol@partner.test; prefer-encrypt=mutual; keydata=\r\n ${keydata}`, '', 'Hi Alice', '',
    ].join('\r\n');
    expect(await sendData(inbound, hello)).toMatch(/^250 /);
    inbound.close();
    await rig.rx.until(1);

    // Harvested after the 250: the key store lists Carol's key with its source.
    await expect.poll(async () => {
      const listed = await rig.gateway.cli('keys', 'list', 'carol@partner.test', '--json');
      return listed.stdout.includes('autocrypt') && listed.stdout.includes(carol.fingerprint.toLowerCase().slice(-16)) ? 'learned' : listed.stdout;
    }, { timeout: 20_000 }).toBe('learned');

    const session = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await session.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250 /);
    expect(await session.command('RCPT TO:<carol@partner.test>')).toMatch(/^250 /);
    const reply = await sendData(session, ['From: alice@corp.test', 'To: carol@partner.test', 'Subject: Figures', 'Message-ID: <ac2@corp.test>', '', MARKER, ''].join('\r\n'));
    expect(reply).toMatch(/^250 /);
    session.close();
    await rig.rx.until(2);

    const toCarol = rig.rx.transactions()[1];
    expect(toCarol.rcptTo.map((r) => r.toString())).toEqual(['<carol@partner.test>']);
    const data = toCarol.data.toString('latin1');
    expect(data).toMatch(/Content-Type: multipart\/encrypted;[\s\S]*application\/pgp-encrypted/);
    expect(data).not.toContain(MARKER);
    expect(data).toMatch(/^Subject: \.\.\.$/m);
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(data)![0].replace(/\r\n/g, '\n');
    const secret = await openpgp.readPrivateKey({ binaryKey: carol.secret.key });
    const { data: plain } = await openpgp.decrypt({ message: await openpgp.readMessage({ armoredMessage: armored }), decryptionKeys: secret });
    expect(String(plain)).toContain(MARKER);

    const id = /queued as ([A-Za-z0-9]+)/.exec(reply)![1];
    const shown = JSON.parse((await rig.gateway.cli('queue', 'show', id, '--json')).stdout) as { receipts: { route?: string; routeReason?: string }[] };
    expect(shown.receipts.at(-1)).toMatchObject({ route: 'end-to-end:openpgp', routeReason: expect.stringMatching(/usable key of the recipient is known/) });
  });
});
