/**
 * RFC 9788 Appendix C.3.1–C.3.8 (signed-and-encrypted simple messages and replies, hcp_baseline
 * and hcp_shy, with and without a Legacy Display Element) through our S/MIME reader. Vectors and
 * sources: test/fixtures/standards/rfc9788/ and its README.
 */
import { describe, expect, it } from 'vitest';
import { createSmimeProtector } from './index.ts';
import { parseCertificates, toArrayBuffer } from './der.ts';
import { pkijs } from './engine.ts';
import { bodyOf, decryptionKey, now, openAsBob, read, rfc9216, text, values, vector } from '../../../test/helpers/rfc9788-vectors.ts';

describe('RFC 9788 C.3.1: hcp_baseline over a simple message', () => {
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
    const info = pkijs.ContentInfo.fromBER(toArrayBuffer(Buffer.from(text(message).split(/\r?\n\r?\n/)[1], 'base64')));
    const enveloped = new pkijs.EnvelopedData({ schema: info.content });
    const serials = enveloped.recipientInfos.map((r) => {
      const rid = (r.value as pkijs.KeyTransRecipientInfo).rid;
      return Buffer.from(rid instanceof pkijs.IssuerAndSerialNumber ? rid.serialNumber.valueBlock.valueHexView : []).toString('hex');
    });
    const expected = ['alice-enc-cert.pem', 'bob-enc-cert.pem'].map((f) => Buffer.from(parseCertificates([rfc9216(f)])[0].serialNumber.valueBlock.valueHexView).toString('hex'));
    expect(serials).toEqual(expected);
    const aliceSigning = { kind: 'smime' as const, address: 'alice@smime.example', key: rfc9216('alice-sign-key.pem'), certificates: [rfc9216('alice-sign-cert.pem')] };
    const result = await createSmimeProtector().unprotect(message, { decryptionKeys: [aliceSigning], verificationKeys: [], trustAnchors: [rfc9216('rsa-ca-cert.pem')], now });
    expect(result).toEqual({ message, decrypted: false, signature: null, malleable: false });
  });

  for (const reader of ['alice', 'bob'] as const) {
    it(`c3.1 (encrypted, hcp_baseline) opened with ${reader}'s RFC 9216 decryption key: valid, the protected Subject, what C.3.1.1 reads`, async () => {
      const result = await read(vector('c3.1-smime-signed-enc-hp-baseline.eml'), [decryptionKey(reader)]);
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

describe('RFC 9788 C.3.2–C.3.4: hcp_shy and the Legacy Display Element (§4.5.3)', () => {
  it('c3.2: its outside shows only "[...]"; without a key it passes unchanged', async () => {
    const message = vector('c3.2-smime-signed-enc-hp-baseline-legacy.eml');
    expect(values(text(message), 'Subject')).toEqual(['[...]']);
    expect(await read(message)).toEqual({ message, decrypted: false, signature: null, malleable: false });
  });

  it('c3.2 (hcp_baseline + legacy display): valid by Alice, the protected Subject, and the decorative "Subject:" block at the top of the body is gone, with its hp-legacy-display parameter', async () => {
    const result = await openAsBob(vector('c3.2-smime-signed-enc-hp-baseline-legacy.eml'));
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-baseline-legacy']);
    expect(values(delivered, 'HP-Outer')).toEqual([]);
    // Left in place, the parameter would tell a later reader to cut the real first paragraph.
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    const body = bodyOf(delivered);
    // §4.5.3.2: discard the leading lines up to and including the first blank one; C.3.2.2 shows what that leaves.
    expect(body.startsWith('This is the\r\nsmime-signed-enc-hp-baseline-legacy\r\nmessage.\r\n')).toBe(true);
    expect(body).not.toContain('Subject:');
    expect(body).toContain('"Legacy\r\nDisplay" element.');
  });

  it('c3.3 (hcp_shy): the outside shows bare addresses and a UTC Date; delivered are the protected From, To, Date and Subject, each once, and no HP-Outer', async () => {
    const message = vector('c3.3-smime-signed-enc-hp-shy.eml');
    expect(values(text(message), 'From')).toEqual(['alice@smime.example']);
    expect(values(text(message), 'Date')).toEqual(['Sat, 20 Feb 2021 15:12:02 +0000']);
    const result = await openAsBob(message);
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

  it('c3.4 (hcp_shy + legacy display): the four-line decorative block (Subject, From, To, Date) goes; the protected fields are delivered once each', async () => {
    const result = await openAsBob(vector('c3.4-smime-signed-enc-hp-shy-legacy.eml'));
    expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-hp-shy-legacy']);
    expect(values(delivered, 'From')).toEqual(['Alice <alice@smime.example>']);
    expect(values(delivered, 'Date')).toEqual(['Sat, 20 Feb 2021 10:13:02 -0500']);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    const body = bodyOf(delivered);
    expect(body.startsWith('This is the\r\nsmime-signed-enc-hp-shy-legacy\r\nmessage.\r\n')).toBe(true);
    for (const line of ['Subject:', 'From:', 'To:', 'Date:']) expect(body).not.toContain(line);
  });
});

// [file, the reply's Subject (and Message-ID local part), the message it answers, hcp_shy's protected Date or null for hcp_baseline, legacy display]
const REPLIES = [
  ['c3.5-smime-signed-enc-hp-baseline-reply.eml', 'smime-signed-enc-hp-baseline-reply', 'smime-signed-enc-hp-baseline', null, false],
  ['c3.6-smime-signed-enc-hp-baseline-legacy-reply.eml', 'smime-signed-enc-hp-baseline-legacy-reply', 'smime-signed-enc-hp-baseline-legacy', null, true],
  ['c3.7-smime-signed-enc-hp-shy-reply.eml', 'smime-signed-enc-hp-shy-reply', 'smime-signed-enc-hp-shy', 'Sat, 20 Feb 2021 10:18:02 -0500', false],
  ['c3.8-smime-signed-enc-hp-shy-legacy-reply.eml', 'smime-signed-enc-hp-shy-legacy-reply', 'smime-signed-enc-hp-shy-legacy', 'Sat, 20 Feb 2021 10:19:02 -0500', true],
] as const;

describe('RFC 9788 C.3.5–C.3.8: replies over a simple message', () => {
  for (const [file, subject, parent, shyDate, legacy] of REPLIES) {
    it(`${file}: decrypted with Bob's key, valid; the protected Subject, In-Reply-To and References (outside too under both HCPs) delivered once each, no HP-Outer${shyDate ? ', the protected From and Date where hcp_shy shows bare ones' : ''}${legacy ? ', the Legacy Display Element gone' : ''}`, async () => {
      const message = vector(file);
      expect(values(text(message), 'Subject')).toEqual(['[...]']);
      if (shyDate) expect(values(text(message), 'From')).toEqual(['alice@smime.example']);
      const result = await openAsBob(message);
      expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual([subject]);
      expect(values(delivered, 'Message-ID')).toEqual([`<${subject}@example>`]);
      expect(values(delivered, 'In-Reply-To')).toEqual([`<${parent}@example>`]);
      expect(values(delivered, 'References')).toEqual([`<${parent}@example>`]);
      expect(values(delivered, 'From')).toEqual(['Alice <alice@smime.example>']);
      expect(values(delivered, 'To')).toEqual(['Bob <bob@smime.example>']);
      if (shyDate) expect(values(delivered, 'Date')).toEqual([shyDate]);
      expect(values(delivered, 'HP-Outer')).toEqual([]);
      expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
      const body = bodyOf(delivered);
      expect(body.startsWith(`This is the\r\n${subject}\r\nmessage.\r\n`)).toBe(true);
      if (legacy) for (const line of ['Subject:', 'From:', 'Date:']) expect(body).not.toContain(line);
    });
  }
});
