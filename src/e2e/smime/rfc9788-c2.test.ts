/**
 * RFC 9788 Appendix C.2 (signed-only messages) through our S/MIME reader: header protection
 * makes the signed Subject win over one changed outside; the legacy RFC 8551 wrapping (§4.10) is
 * delivered as signed. Vectors and sources: test/fixtures/standards/rfc9788/ and its README.
 */
import { describe, expect, it } from 'vitest';
import { derBlocks } from './der.ts';
import { bodyOf, read, rfc9216, text, values, vector } from '../../../test/helpers/rfc9788-vectors.ts';

describe('RFC 9788 C.2: signed only, header protection', () => {
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
});

describe('RFC 9788 C.2.5, C.2.6: legacy RFC 8551 header protection (§4.10)', () => {
  it('c2.5 (signedData around message/rfc822): valid by Alice; the signed inner message is delivered whole as message/rfc822 (§4.10.2 unwrapping is a MAY we do not take)', async () => {
    const result = await read(vector('c2.5-smime-one-part-complex-rfc8551hp.eml'));
    expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Content-Type')).toEqual(['message/rfc822']);
    const inner = bodyOf(delivered);
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
    const inner = bodyOf(delivered);
    expect(values(inner, 'Subject')).toEqual(['smime-multipart-complex-rfc8551hp']);
    expect(inner).toContain('--cf8--');
    const changed = await read(Buffer.from(original.replace('(RFC8551HP) scheme.\n\n-- ', '(RFC8551HP) scheme!\n\n-- '), 'latin1'));
    expect(changed.signature?.state).toBe('invalid');
  });
});
