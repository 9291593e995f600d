/**
 * RFC 9788 (Header Protection) Appendix C test vectors (test/fixtures/standards/rfc9788/,
 * sources in its README) through our S/MIME reader, and our writer held to what the RFC says
 * a reader finds: `hp="cipher"` plus one HP-Outer copy of every field the outside shows.
 * The vectors are signed by RFC 9216's Alice; the encrypted ones are for her and Bob's RFC 9216
 * encryption certificates and open with the RFC's decryption keys (§4.4, §5.4).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPeers } from '../../../test/helpers/peers.ts';
import { createTestPki, SAMPLE_MESSAGE } from '../../../test/integration/18-smime/pki.ts';
import type { TestPki } from '../../../test/integration/18-smime/pki.ts';
import { parseHeaders } from '../../mail/index.ts';
import { createSmimeProtector } from './index.ts';
import { parseCertificates } from './der.ts';
import { pkijs } from './engine.ts';
import { derBlocks, toArrayBuffer } from './der.ts';

const STANDARDS = path.resolve(import.meta.dirname, '../../../test/fixtures/standards');
const vector = (name: string) => readFileSync(path.join(STANDARDS, 'rfc9788', name));
const rfc9216 = (name: string) => readFileSync(path.join(STANDARDS, 'rfc9216', name));
const now = new Date('2026-12-02T00:00:00Z');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');
const headerBlock = (message: string) => parseHeaders(message.slice(0, message.search(/\r?\n\r?\n/)));
const values = (message: string, name: string) => headerBlock(message).filter((f) => f.name.toLowerCase() === name.toLowerCase()).map((f) => f.value);

function read(message: Uint8Array) {
  return createSmimeProtector().unprotect(message, { decryptionKeys: [], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
}

describe('RFC 9788 Appendix C test vectors', () => {
  for (const [file, subject, signedAt] of [
    ['c2.1-smime-one-part-hp.eml', 'smime-one-part-hp', '2021-02-20T15:06:02.000Z'],
    ['c2.2-smime-multipart-hp.eml', 'smime-multipart-hp', '2021-02-20T15:07:02.000Z'],
  ] as const) {
    it(`${file}: Alice's signature is valid against the RFC 9216 CA and the protected header fields are the message's`, async () => {
      const result = await read(vector(file));
      expect(result).toMatchObject({ decrypted: false, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
      expect(result.signature?.state === 'valid' && result.signature.signedAt?.toISOString()).toBe(signedAt);
      // The signer's certificate the vector carries is RFC 9216 §4.1, byte for byte.
      const carried = result.signature?.state === 'valid' ? result.signature.certificate : undefined;
      expect(Buffer.from(carried ?? [])).toEqual(Buffer.from(derBlocks(rfc9216('alice-sign-cert.pem'))[0]));
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual([subject]);
      expect(values(delivered, 'From')).toEqual(['Alice <alice@smime.example>']);
      expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
      expect(delivered).toContain(`This is the\r\n${subject}\r\nmessage.`);
    });
  }

  for (const [file, subject, boundary] of [
    ['c2.3-smime-one-part-complex-hp.eml', 'smime-one-part-complex-hp', 'ab8'],
    ['c2.4-smime-multipart-complex-hp.eml', 'smime-multipart-complex-hp', '550'],
  ] as const) {
    it(`${file} (signed only, complex message, header protection): valid; the signed Subject wins over one changed outside, hp="clear" is dropped, the multipart/mixed stays whole`, async () => {
      const relabelled = text(vector(file)).replace(`Subject: ${subject}\n`, 'Subject: Pay the invoice today\n');
      const result = await read(Buffer.from(relabelled, 'latin1'));
      expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual([subject]);
      expect(delivered).not.toContain('Pay the invoice');
      expect(values(delivered, 'Content-Type')).toEqual([`multipart/mixed; boundary="${boundary}"`]);
      expect(delivered.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
    });
  }

  it('c2.2: an outer Subject changed on the way does not replace the signed one, and a changed signed line is invalid', async () => {
    const original = text(vector('c2.2-smime-multipart-hp.eml'));
    const relabelled = original.replace('Subject: smime-multipart-hp\n', 'Subject: Pay the invoice today\n');
    expect(relabelled).not.toBe(original);
    const result = await read(Buffer.from(relabelled, 'latin1'));
    expect(result.signature?.state).toBe('valid');
    expect(values(text(result.message), 'Subject')).toEqual(['smime-multipart-hp']);
    expect(text(result.message)).not.toContain('Pay the invoice');
    const changed = await read(Buffer.from(original.replace('message. It uses the Header', 'message. It skips the Header'), 'latin1'));
    expect(changed.signature?.state).toBe('invalid');
  });

  it('c1.3 (no header protection): valid, the outer fields are the message; an outer Subject changed on the way goes through, as C.2.2 shows it cannot with protection', async () => {
    const original = text(vector('c1.3-smime-multipart.eml'));
    const result = await read(vector('c1.3-smime-multipart.eml'));
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@smime.example' });
    expect(values(text(result.message), 'Subject')).toEqual(['smime-multipart']);
    const relabelled = await read(Buffer.from(original.replace('Subject: smime-multipart\n', 'Subject: Pay the invoice today\n'), 'latin1'));
    expect(relabelled.signature?.state).toBe('valid');
    expect(values(text(relabelled.message), 'Subject')).toEqual(['Pay the invoice today']);
  });

  it('c3.1.1 (the decrypted layer of C.3.1, hcp_baseline): the protected Subject replaces "[...]", no HP-Outer is delivered', async () => {
    const result = await read(vector('c3.1.1-smime-signed-enc-hp-baseline-decrypted.eml'));
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@smime.example' });
    // hp="cipher" is the composer's intent, not an encryption layer (RFC 9788 §2.1.1, §10.2).
    expect(result.decrypted).toBe(false);
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-baseline']);
    expect(values(delivered, 'HP-Outer')).toEqual([]);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    expect(delivered).toContain('the `hcp_baseline` Header Confidentiality Policy.');
  });

  it("c3.1 (encrypted): its RecipientInfos are Alice's and Bob's RFC 9216 encryption certificates; without their keys it passes unchanged", async () => {
    const message = vector('c3.1-smime-signed-enc-hp-baseline.eml');
    const body = text(message).split(/\r?\n\r?\n/)[1];
    const info = pkijs.ContentInfo.fromBER(toArrayBuffer(Buffer.from(body, 'base64')));
    const enveloped = new pkijs.EnvelopedData({ schema: info.content });
    const serials = enveloped.recipientInfos.map((r) => Buffer.from((r.value as pkijs.KeyTransRecipientInfo).rid instanceof pkijs.IssuerAndSerialNumber ? ((r.value as pkijs.KeyTransRecipientInfo).rid as pkijs.IssuerAndSerialNumber).serialNumber.valueBlock.valueHexView : []).toString('hex'));
    const expected = ['alice-enc-cert.pem', 'bob-enc-cert.pem'].map((f) => Buffer.from(parseCertificates([rfc9216(f)])[0].serialNumber.valueBlock.valueHexView).toString('hex'));
    expect(serials).toEqual(expected);
    const alice = { kind: 'smime' as const, address: 'alice@smime.example', key: rfc9216('alice-sign-key.pem'), certificates: [rfc9216('alice-sign-cert.pem')] };
    const result = await createSmimeProtector().unprotect(message, { decryptionKeys: [alice], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toEqual({ message, decrypted: false, signature: null, malleable: false });
  });

  for (const reader of ['alice', 'bob'] as const) {
    it(`c3.1 (encrypted, hcp_baseline) opened with ${reader}'s RFC 9216 decryption key: valid, the protected Subject, what C.3.1.1 reads`, async () => {
      const key = { kind: 'smime' as const, address: `${reader}@smime.example`, key: rfc9216(`${reader}-enc-key.pem`), certificates: [rfc9216(`${reader}-enc-cert.pem`)] };
      const result = await createSmimeProtector().unprotect(vector('c3.1-smime-signed-enc-hp-baseline.eml'), { decryptionKeys: [key], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
      expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-baseline']);
      expect(values(delivered, 'HP-Outer')).toEqual([]);
      expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
      // The envelope holds what the RFC prints as C.3.1.1: the same message comes out.
      expect(delivered).toBe(text((await read(vector('c3.1.1-smime-signed-enc-hp-baseline-decrypted.eml'))).message));
    });
  }
});

describe('RFC 9788 C.1.x (no header protection) and C.3.3', () => {
  const bob = () => ({ kind: 'smime' as const, address: 'bob@smime.example', key: rfc9216('bob-enc-key.pem'), certificates: [rfc9216('bob-enc-cert.pem')] });

  for (const file of ['c1.1-no-crypto.eml', 'c1.5-no-crypto-complex.eml']) {
    it(`${file} (no cryptographic protection): passes unchanged, no signature, not decrypted`, async () => {
      const message = vector(file);
      expect(await read(message)).toEqual({ message, decrypted: false, signature: null, malleable: false });
    });
  }

  it('c1.2 (signedData, no header protection): valid by Alice; the outer fields are the message, so a Subject changed on the way goes through', async () => {
    const original = text(vector('c1.2-smime-one-part.eml'));
    const result = await read(vector('c1.2-smime-one-part.eml'));
    expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    expect(result.signature?.state === 'valid' && result.signature.signedAt?.toISOString()).toBe('2021-02-20T15:01:02.000Z');
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-one-part']);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    expect(delivered).toContain('This is the\r\nsmime-one-part\r\nmessage.');
    const relabelled = await read(Buffer.from(original.replace('Subject: smime-one-part\n', 'Subject: Pay the invoice today\n'), 'latin1'));
    expect(relabelled.signature?.state).toBe('valid');
    expect(values(text(relabelled.message), 'Subject')).toEqual(['Pay the invoice today']);
  });

  for (const [file, subject, boundary] of [
    ['c1.6-smime-one-part-complex.eml', 'smime-one-part-complex', 'db0'],
    ['c1.7-smime-multipart-complex.eml', 'smime-multipart-complex', '757'],
  ] as const) {
    it(`${file} (signed only, complex message, no header protection): valid by Alice, the outer Subject, the multipart/mixed delivered whole`, async () => {
      const result = await read(vector(file));
      expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual([subject]);
      expect(values(delivered, 'Content-Type')).toEqual([`multipart/mixed; boundary="${boundary}"`]);
      expect(delivered).toContain(`<b>${subject}</b>`);
      expect(delivered.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
    });
  }

  it('c1.4 (signed and encrypted, no header protection): decrypted with Bob\'s key and valid, but the outer fields are the message, so a Subject changed on the way goes through', async () => {
    const original = text(vector('c1.4-smime-signed-enc.eml'));
    const open = (message: string) => createSmimeProtector().unprotect(Buffer.from(message, 'latin1'), { decryptionKeys: [bob()], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    const result = await open(original);
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    expect(values(text(result.message), 'Subject')).toEqual(['smime-signed-enc']);
    expect(text(result.message)).toContain('This is the\r\nsmime-signed-enc\r\nmessage.');
    const relabelled = await open(original.replace('Subject: smime-signed-enc\n', 'Subject: Pay the invoice today\n'));
    expect(relabelled.signature?.state).toBe('valid');
    expect(values(text(relabelled.message), 'Subject')).toEqual(['Pay the invoice today']);
  });

  it('c1.8 (signed and encrypted, complex message, no header protection): decrypted with Bob\'s key, valid, the outer Subject and the multipart/mixed delivered whole', async () => {
    const result = await createSmimeProtector().unprotect(vector('c1.8-smime-signed-enc-complex.eml'), { decryptionKeys: [bob()], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-complex']);
    expect(values(delivered, 'Content-Type')).toEqual(['multipart/mixed; boundary="363"']);
    expect(delivered).toContain('<b>smime-signed-enc-complex</b>');
    expect(delivered.trimEnd().endsWith('--363--')).toBe(true);
  });

  it('c3.3 (hcp_shy): the outside shows bare addresses and a UTC Date; delivered are the protected From, To, Date and Subject, each once, and no HP-Outer', async () => {
    const message = vector('c3.3-smime-signed-enc-hp-shy.eml');
    expect(values(text(message), 'From')).toEqual(['alice@smime.example']);
    expect(values(text(message), 'Date')).toEqual(['Sat, 20 Feb 2021 15:12:02 +0000']);
    const result = await createSmimeProtector().unprotect(message, { decryptionKeys: [bob()], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-shy']);
    expect(values(delivered, 'From')).toEqual(['Alice <alice@smime.example>']);
    expect(values(delivered, 'To')).toEqual(['Bob <bob@smime.example>']);
    expect(values(delivered, 'Date')).toEqual(['Sat, 20 Feb 2021 10:12:02 -0500']);
    expect(values(delivered, 'Message-ID')).toEqual(['<smime-signed-enc-hp-shy@example>']);
    expect(values(delivered, 'HP-Outer')).toEqual([]);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    expect(delivered).toContain('the `hcp_shy` Header Confidentiality Policy.');
  });
});

describe('RFC 9788 C.3.5, C.3.6: replies (hcp_baseline)', () => {
  it('c3.5: decrypted with Bob\'s key, valid; In-Reply-To and References (left outside by hcp_baseline) delivered once each, from the protected payload', async () => {
    const key = { kind: 'smime' as const, address: 'bob@smime.example', key: rfc9216('bob-enc-key.pem'), certificates: [rfc9216('bob-enc-cert.pem')] };
    const result = await createSmimeProtector().unprotect(vector('c3.5-smime-signed-enc-hp-baseline-reply.eml'), { decryptionKeys: [key], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-baseline-reply']);
    expect(values(delivered, 'In-Reply-To')).toEqual(['<smime-signed-enc-hp-baseline@example>']);
    expect(values(delivered, 'References')).toEqual(['<smime-signed-enc-hp-baseline@example>']);
    expect(values(delivered, 'HP-Outer')).toEqual([]);
  });

  it('c3.6 (reply + legacy display): In-Reply-To and References once each, the decorative Subject block and its parameter gone', async () => {
    const key = { kind: 'smime' as const, address: 'bob@smime.example', key: rfc9216('bob-enc-key.pem'), certificates: [rfc9216('bob-enc-cert.pem')] };
    const result = await createSmimeProtector().unprotect(vector('c3.6-smime-signed-enc-hp-baseline-legacy-reply.eml'), { decryptionKeys: [key], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-baseline-legacy-reply']);
    expect(values(delivered, 'In-Reply-To')).toEqual(['<smime-signed-enc-hp-baseline-legacy@example>']);
    expect(values(delivered, 'References')).toEqual(['<smime-signed-enc-hp-baseline-legacy@example>']);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    expect(delivered.slice(delivered.indexOf('\r\n\r\n') + 4).startsWith('This is the\r\n')).toBe(true);
  });
});

describe('RFC 9788 C.2.5, C.2.6: legacy RFC 8551 header protection (§4.10)', () => {
  it('c2.5 (signedData around message/rfc822): valid by Alice; the signed inner message is delivered whole as message/rfc822 (§4.10.2 unwrapping is a MAY we do not take)', async () => {
    const result = await read(vector('c2.5-smime-one-part-complex-rfc8551hp.eml'));
    expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Content-Type')).toEqual(['message/rfc822']);
    const inner = delivered.slice(delivered.indexOf('\r\n\r\n') + 4);
    expect(values(inner, 'Subject')).toEqual(['smime-one-part-complex-rfc8551hp']);
    expect(values(inner, 'Content-Type')).toEqual(['multipart/mixed; boundary="fcc"']);
    expect(inner).toContain('--fcc--');
  });

  it('c2.6 (multipart/signed around message/rfc822): valid by Alice, the signed message delivered whole; a changed line inside it is invalid', async () => {
    const original = text(vector('c2.6-smime-multipart-complex-rfc8551hp.eml'));
    const result = await read(vector('c2.6-smime-multipart-complex-rfc8551hp.eml'));
    expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Content-Type')).toEqual(['message/rfc822']);
    const inner = delivered.slice(delivered.indexOf('\r\n\r\n') + 4);
    expect(values(inner, 'Subject')).toEqual(['smime-multipart-complex-rfc8551hp']);
    expect(inner).toContain('--cf8--');
    const changed = await read(Buffer.from(original.replace('(RFC8551HP) scheme.\n\n-- ', '(RFC8551HP) scheme!\n\n-- '), 'latin1'));
    expect(changed.signature?.state).toBe('invalid');
  });
});

describe('RFC 9788 C.3.2: a Legacy Display Element (§4.5.3)', () => {
  const bob = () => ({ kind: 'smime' as const, address: 'bob@smime.example', key: rfc9216('bob-enc-key.pem'), certificates: [rfc9216('bob-enc-cert.pem')] });
  const open = (message: Uint8Array) => createSmimeProtector().unprotect(message, { decryptionKeys: [bob()], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });

  it('c3.2 (hcp_baseline + legacy display): valid by Alice, the protected Subject, and the decorative "Subject:" block at the top of the body is gone, with its hp-legacy-display parameter', async () => {
    const result = await open(vector('c3.2-smime-signed-enc-hp-baseline-legacy.eml'));
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-baseline-legacy']);
    expect(values(delivered, 'HP-Outer')).toEqual([]);
    // Left in place, the parameter would tell a later reader to cut the real first paragraph.
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    const body = delivered.slice(delivered.indexOf('\r\n\r\n') + 4);
    // §4.5.3.2: discard the leading lines up to and including the first blank one; C.3.2.2 shows what that leaves.
    expect(body.startsWith('This is the\r\nsmime-signed-enc-hp-baseline-legacy\r\nmessage.\r\n')).toBe(true);
    expect(body).not.toContain('Subject:');
    expect(body).toContain('"Legacy\r\nDisplay" element.');
  });

  it('c3.4 (hcp_shy + legacy display): the four-line decorative block (Subject, From, To, Date) goes; the protected fields are delivered once each', async () => {
    const result = await open(vector('c3.4-smime-signed-enc-hp-shy-legacy.eml'));
    expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-shy-legacy']);
    expect(values(delivered, 'From')).toEqual(['Alice <alice@smime.example>']);
    expect(values(delivered, 'Date')).toEqual(['Sat, 20 Feb 2021 10:13:02 -0500']);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    const body = delivered.slice(delivered.indexOf('\r\n\r\n') + 4);
    expect(body.startsWith('This is the\r\nsmime-signed-enc-hp-shy-legacy\r\nmessage.\r\n')).toBe(true);
    for (const line of ['Subject:', 'From:', 'To:', 'Date:']) expect(body).not.toContain(line);
  });

  it('c3.10 (complex, hcp_baseline + legacy display): the text/plain block and the text/html div.header-protection-legacy-display go; the image and the structure stay', async () => {
    const result = await open(vector('c3.10-smime-signed-enc-complex-hp-baseline-legacy.eml'));
    expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-complex-hp-baseline-legacy']);
    expect(values(delivered, 'Content-Type')).toEqual(['multipart/mixed; boundary="3c5"']);
    expect(delivered).not.toContain('hp-legacy-display');
    expect(delivered).not.toContain('header-protection-legacy-display');
    expect(delivered).not.toContain('Subject: smime-signed-enc-complex-hp-baseline-legacy\r\n\r\n');
    expect(delivered).toContain('Content-Type: text/plain; charset="us-ascii"\r\n\r\nThis is the\r\n');
    expect(delivered).toContain('<html><head><title></title></head><body>\r\n<p>This is the\r\n');
    expect(delivered).toContain('Content-Disposition: inline\r\n\r\niVBORw0KGgo');
    expect(delivered.trimEnd().endsWith('--3c5--')).toBe(true);
  });

  it('c3.2: its outside shows only "[...]" and the RecipientInfos are Alice\'s and Bob\'s; without a key it passes unchanged', async () => {
    const message = vector('c3.2-smime-signed-enc-hp-baseline-legacy.eml');
    expect(values(text(message), 'Subject')).toEqual(['[...]']);
    const result = await createSmimeProtector().unprotect(message, { decryptionKeys: [], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toEqual({ message, decrypted: false, signature: null, malleable: false });
  });
});

describeWithPeers(['openssl'], 'our header protection as an RFC 9788 reader finds it (openssl decrypts)', () => {
  let pki: TestPki;
  let current: Date;
  const cms = (args: string[], input: Uint8Array) => execFileSync('openssl', ['cms', ...args], { input, cwd: pki.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  beforeAll(() => {
    pki = createTestPki([{ name: 'bob', address: 'bob@example.test', key: 'rsa' }]);
    current = new Date(Date.now() + 2000);
  }, 60_000);
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));
  const alice = { kind: 'smime' as const, address: 'alice@smime.example', key: rfc9216('alice-sign-key.pem'), certificates: [rfc9216('alice-sign-cert.pem')] };
  const message = Buffer.from(SAMPLE_MESSAGE.replace(/alice@example\.test/g, 'alice@smime.example'));

  it('encrypted: the payload has hp="cipher" and an HP-Outer copy of each non-structural outer field, as the outside shows it', async () => {
    const bob = { kind: 'smime' as const, address: 'bob@example.test', data: pki.user('bob').cert };
    const sealed = text(await createSmimeProtector().protect(message, { sign: true, encrypt: true, recipients: [bob], signer: alice, now: current }));
    const signed = cms(['-decrypt', '-recip', pki.user('bob').certPath, '-inkey', pki.user('bob').keyPath], Buffer.from(sealed, 'latin1'));
    const payload = text(cms(['-verify', '-CAfile', path.join(STANDARDS, 'rfc9216', 'rsa-ca-cert.pem'), '-purpose', 'smimesign'], signed));
    expect(values(payload, 'Content-Type')[0]).toMatch(/;\s*hp="cipher"$/);
    expect(values(payload, 'Subject')).toEqual(['Quarterly numbers']);
    // §2.2: every Non-Structural field put outside has its HP-Outer copy, with the outside's value.
    const outside = headerBlock(sealed).filter((f) => !/^(content-|mime-version$)/i.test(f.name));
    expect(outside.map((f) => f.name).sort()).toEqual(['Date', 'From', 'Message-ID', 'Subject', 'To']);
    expect(values(payload, 'HP-Outer').sort()).toEqual(outside.map((f) => `${f.name}: ${f.value}`).sort());
    expect(values(payload, 'HP-Outer')).toContain('Subject: ...');
    // And our own reader takes them back out of the delivered message.
    const read = await createSmimeProtector().unprotect(Buffer.from(sealed, 'latin1'), {
      decryptionKeys: [{ kind: 'smime', address: 'bob@example.test', key: pki.user('bob').key, certificates: [pki.user('bob').cert] }],
      verificationKeys: [],
      trustAnchors: [rfc9216('rsa-ca-cert.pem')],
      now: current,
    });
    expect(values(text(read.message), 'HP-Outer')).toEqual([]);
    expect(values(text(read.message), 'Subject')).toEqual(['Quarterly numbers']);
  });

  it('signed only: the payload has hp="clear" and no HP-Outer (§2.2: not for signed-only messages)', async () => {
    const signed = await createSmimeProtector().protect(message, { sign: true, encrypt: false, recipients: [], signer: alice, now: current });
    const payload = text(cms(['-verify', '-CAfile', path.join(STANDARDS, 'rfc9216', 'rsa-ca-cert.pem'), '-purpose', 'smimesign'], signed));
    expect(values(payload, 'Content-Type')[0]).toMatch(/;\s*hp="clear"$/);
    expect(values(payload, 'Subject')).toEqual(['Quarterly numbers']);
    expect(values(payload, 'HP-Outer')).toEqual([]);
  });
});
