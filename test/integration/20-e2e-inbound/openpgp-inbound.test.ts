/**
 * Inbound OpenPGP (issue 11, the MX role) with real peers: GnuPG and Sequoia encrypt and sign
 * to a key Sealgate holds (`sealgate keys generate`), the message goes to the MX listener, and
 * the Postfix mailbox behind it receives it decrypted with a `Sealgate-E2E-Result` field.
 * Also: a tampered signature reads `invalid`, an MDC-less message (gpg --rfc2440) is refused
 * at the end of DATA, a forged result field is gone, a replay is flagged, and an Autocrypt
 * header lands in the key store.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../../helpers/peers.ts';
import { pgpMimeEncrypted, pgpMimeSigned, resultHeader, startInboundRig, type InboundRig } from './rig.ts';

let rig: InboundRig;
let home: string;
let work: string;
let aliceFpr: string;
let counter = 0;

function gpg(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--trust-model', 'always', ...args], {
    input, cwd: work, env: { ...process.env, GNUPGHOME: home }, stdio: ['pipe', 'pipe', 'pipe'],
  });
}
function sq(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('sq', args, { input, cwd: work, env: { ...process.env, SEQUOIA_HOME: join(work, 'sq-home') }, stdio: ['pipe', 'pipe', 'pipe'] });
}
function headers(from: string, subject: string, extra: string[] = []): { lines: string[]; id: string } {
  const id = `<inbound-${++counter}-${Date.now()}@sender.test>`;
  return { id, lines: [`From: ${from}`, 'To: Bob <bob@corp.test>', `Subject: ${subject}`, `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`, `Message-ID: ${id}`, ...extra] };
}
const entity = (text: string) => `Content-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`;
/** The signed part of a multipart/signed: the entity without the CRLF that belongs to the boundary (RFC 3156 §5). */
const signedPart = (text: string) => `Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`;

describeWithPeers(['root', 'postfix', 'gpg', 'gpg-agent', 'sq'], 'inbound OpenPGP: decrypt, verify, mark', () => {
  beforeAll(async () => {
    rig = await startInboundRig('e2e-in-pgp', '127.0.0.61');
    work = join(rig.dir, 'peers');
    home = join(work, 'gnupg');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    mkdirSync(join(work, 'sq-home'), { recursive: true });
    expect((await rig.gateway.cli('keys', 'generate', 'bob@corp.test')).code).toBe(0);
    const bobPublic = await rig.gateway.cli('keys', 'export', 'bob@corp.test');
    expect(bobPublic.code, bobPublic.stderr).toBe(0);
    writeFileSync(join(work, 'bob.asc'), bobPublic.stdout);
    gpg(['--import', 'bob.asc']);
    // alice (gpg) and carol (sq) are correspondents whose keys an admin imported.
    gpg(['--quick-gen-key', 'Alice <alice@sender.test>', 'ed25519', 'sign', 'never']);
    aliceFpr = gpg(['--list-keys', '--with-colons', 'alice@sender.test']).toString().split('\n').find((l) => l.startsWith('fpr'))!.split(':')[9];
    writeFileSync(join(work, 'alice.asc'), gpg(['--armor', '--export', 'alice@sender.test']));
    expect((await rig.gateway.cli('keys', 'import', join(work, 'alice.asc'))).code).toBe(0);
    sq(['key', 'generate', '--userid', '<carol@sender.test>', '--export', 'carol.key']);
    writeFileSync(join(work, 'carol.cert'), sq(['key', 'extract-cert', 'carol.key']));
    expect((await rig.gateway.cli('keys', 'import', join(work, 'carol.cert'))).code).toBe(0);
  }, 120_000);

  afterAll(async () => rig?.stop([home]));

  it('gpg: encrypted and signed to bob arrives decrypted with a valid signature', async () => {
    const marker = 'gpg-secret-figures-1';
    const armored = gpg(['--armor', '--sign', '--encrypt', '-u', 'alice@sender.test', '-r', 'bob@corp.test'], entity(marker)).toString();
    const { lines, id } = headers('Alice <alice@sender.test>', 'from gpg');
    const reply = await rig.send('alice@sender.test', ['bob@corp.test'], pgpMimeEncrypted(lines, armored));
    expect(reply).toMatch(/^250 /);
    const copy = await rig.delivered(marker);
    expect(copy).not.toContain('BEGIN PGP MESSAGE');
    expect(copy).toContain(`Message-ID: ${id}`);
    const result = resultHeader(copy)!;
    expect(result).toMatch(/^gateway\.sealgate\.test; kind=openpgp; decrypted=yes; signature=valid; signer="alice@sender\.test"/);
    expect(result).toContain(`key="${aliceFpr}"`);
    expect(result).toContain('key-source=imported');
    expect(result).toMatch(/signed-at=\d{4}-\d\d-\d\dT/);
    expect(result).toContain('malleable=no; replay=no');
    // Issue 13's lifecycle audit: the decryption is an event of the message, with nothing of its content.
    const queued = /queued as (\S+)/.exec(reply)?.[1];
    const events = JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'message.decrypted', '--json')).stdout) as { target: string; detail: Record<string, unknown> }[];
    const mine = events.filter((e) => e.target === queued);
    expect(mine.map((e) => e.detail)).toEqual([{ kind: 'openpgp', from: 'alice@sender.test', recipients: ['bob@corp.test'] }]);
    expect(JSON.stringify(events)).not.toContain(marker);
  });

  it('sq: encrypted and signed to bob arrives decrypted with a valid signature', async () => {
    const marker = 'sq-secret-figures-2';
    writeFileSync(join(work, 'sq-body.eml'), entity(marker));
    // sq's defaults, compression included: its padded deflate stream once met Node 24's strict
    // DecompressionStream ("Trailing junk…", e2e/openpgp/decompression.ts).
    const armored = sq(['encrypt', '--recipient-cert', 'bob.asc', '--signer-key', 'carol.key', 'sq-body.eml']).toString();
    const { lines } = headers('carol@sender.test', 'from sq');
    expect(await rig.send('carol@sender.test', ['bob@corp.test'], pgpMimeEncrypted(lines, armored))).toMatch(/^250 /);
    const result = resultHeader(await rig.delivered(marker))!;
    expect(result).toMatch(/decrypted=yes; signature=valid; signer="carol@sender\.test"/);
  });

  it('a signed message changed on the way reads invalid; the original copy stays as it came', async () => {
    const marker = 'tampered-amount-3';
    const signed = signedPart(`Please pay 100 EUR. ${marker}`);
    const signature = gpg(['--armor', '--detach-sign', '-u', 'alice@sender.test'], signed).toString();
    const { lines } = headers('alice@sender.test', 'signed, then changed');
    const tampered = pgpMimeSigned(lines, signed.replace('100 EUR', '900 EUR'), signature);
    expect(await rig.send('alice@sender.test', ['bob@corp.test'], tampered)).toMatch(/^250 /);
    const copy = await rig.delivered(marker);
    expect(copy).toContain('BEGIN PGP SIGNATURE');
    expect(resultHeader(copy)).toMatch(/decrypted=no; signature=invalid; signer="alice@sender\.test".*reason="the message was changed/);
  });

  it('a replayed signed message is flagged, the first copy is not', async () => {
    const marker = 'replayed-order-4';
    const signed = signedPart(`Ship 10 crates. ${marker}`);
    const signature = gpg(['--armor', '--detach-sign', '-u', 'alice@sender.test'], signed).toString();
    const { lines } = headers('alice@sender.test', 'order');
    const message = pgpMimeSigned(lines, signed, signature);
    expect(await rig.send('alice@sender.test', ['bob@corp.test'], message)).toMatch(/^250 /);
    expect(resultHeader(await rig.delivered(marker))).toMatch(/signature=valid.*replay=no$/);
    expect(await rig.send('alice@sender.test', ['bob@corp.test'], message.replace('Subject: order', 'Subject: order (again)'))).toMatch(/^250 /);
    expect(resultHeader(await rig.delivered('Subject: order (again)'))).toMatch(/signature=valid.*replay=yes$/);
  });

  it('refuses an OpenPGP message without integrity protection at the end of DATA', async () => {
    const armored = gpg(['--armor', '--rfc2440', '--encrypt', '-r', 'bob@corp.test'], entity('no-mdc-5')).toString();
    const { lines } = headers('alice@sender.test', 'no MDC');
    const reply = await rig.send('alice@sender.test', ['bob@corp.test'], pgpMimeEncrypted(lines, armored));
    expect(reply).toMatch(/^550 5\.7\.1 .*without integrity protection/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(rig.mailbox.messages().some((m) => m.raw.includes('Subject: no MDC'))).toBe(false);
  });

  it('removes a forged result header, and learns an Autocrypt key from an inbound message', async () => {
    writeFileSync(join(work, 'dave.key'), sq(['key', 'generate', '--userid', '<dave@autocrypt.test>', '--export', '-', '--rev-cert', join(work, 'dave.rev')]));
    const cert = sq(['key', 'extract-cert', '--binary', 'dave.key']);
    const keydata = cert.toString('base64').replace(/(.{72})/g, '$1\r\n ');
    const { lines } = headers('dave@autocrypt.test', 'hello with autocrypt', [
      'Sealgate-E2E-Result: gateway.sealgate.test; kind=openpgp; decrypted=yes; signature=valid; signer="ceo@corp.test"',
      'sealgate-e2e-result : decrypted=yes',
      `Autocrypt: addr=dave@autocrypt.test; prefer-encrypt=mutual; keydata=\r\n ${keydata}`,
    ]);
    const marker = 'autocrypt-hello-6';
    expect(await rig.send('dave@autocrypt.test', ['bob@corp.test'], [...lines, '', marker, ''].join('\r\n'))).toMatch(/^250 /);
    const copy = await rig.delivered(marker);
    expect(resultHeader(copy)).toBeUndefined();
    expect(copy.toLowerCase()).not.toContain('sealgate-e2e-result');
    const keys = await rig.keysUntil((k) => k.address === 'dave@autocrypt.test');
    expect(keys).toContainEqual(expect.objectContaining({ address: 'dave@autocrypt.test', source: 'autocrypt' }));
  });
});
