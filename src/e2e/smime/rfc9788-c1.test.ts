/**
 * RFC 9788 Appendix C.1 (baseline messages, no header protection) through our S/MIME reader:
 * the signature verifies, and the outer header fields are the message's, so one changed on the
 * way is delivered (the counterexamples to C.2 and C.3). Vectors and sources:
 * test/fixtures/standards/rfc9788/ and its README.
 */
import { describe, expect, it } from 'vitest';
import { openAsBob, read, text, values, vector } from '../../../test/helpers/rfc9788-vectors.ts';

const relabel = (file: string, subject: string) => Buffer.from(text(vector(file)).replace(`Subject: ${subject}\n`, 'Subject: Pay the invoice today\n'), 'latin1');

describe('RFC 9788 C.1: no header protection', () => {
  for (const file of ['c1.1-no-crypto.eml', 'c1.5-no-crypto-complex.eml']) {
    it(`${file} (no cryptographic protection): passes unchanged, no signature, not decrypted`, async () => {
      const message = vector(file);
      expect(await read(message)).toEqual({ message, decrypted: false, signature: null, malleable: false });
    });
  }

  it('c1.2 (signedData, no header protection): valid by Alice; the outer fields are the message, so a Subject changed on the way goes through', async () => {
    const result = await read(vector('c1.2-smime-one-part.eml'));
    expect(result).toMatchObject({ decrypted: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    expect(result.signature?.state === 'valid' && result.signature.signedAt?.toISOString()).toBe('2021-02-20T15:01:02.000Z');
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-one-part']);
    expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="utf-8"']);
    expect(delivered).toContain('This is the\r\nsmime-one-part\r\nmessage.');
    const relabelled = await read(relabel('c1.2-smime-one-part.eml', 'smime-one-part'));
    expect(relabelled.signature?.state).toBe('valid');
    expect(values(text(relabelled.message), 'Subject')).toEqual(['Pay the invoice today']);
  });

  it('c1.3 (no header protection): valid, the outer fields are the message; an outer Subject changed on the way goes through, as C.2.2 shows it cannot with protection', async () => {
    const result = await read(vector('c1.3-smime-multipart.eml'));
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@smime.example' });
    expect(values(text(result.message), 'Subject')).toEqual(['smime-multipart']);
    const relabelled = await read(relabel('c1.3-smime-multipart.eml', 'smime-multipart'));
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

  it("c1.4 (signed and encrypted, no header protection): decrypted with Bob's key and valid, but the outer fields are the message, so a Subject changed on the way goes through", async () => {
    const result = await openAsBob(vector('c1.4-smime-signed-enc.eml'));
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    expect(values(text(result.message), 'Subject')).toEqual(['smime-signed-enc']);
    expect(text(result.message)).toContain('This is the\r\nsmime-signed-enc\r\nmessage.');
    const relabelled = await openAsBob(relabel('c1.4-smime-signed-enc.eml', 'smime-signed-enc'));
    expect(relabelled.signature?.state).toBe('valid');
    expect(values(text(relabelled.message), 'Subject')).toEqual(['Pay the invoice today']);
  });

  it("c1.8 (signed and encrypted, complex message, no header protection): decrypted with Bob's key, valid, the outer Subject and the multipart/mixed delivered whole", async () => {
    const result = await openAsBob(vector('c1.8-smime-signed-enc-complex.eml'));
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    expect(values(delivered, 'Subject')).toEqual(['smime-signed-enc-complex']);
    expect(values(delivered, 'Content-Type')).toEqual(['multipart/mixed; boundary="363"']);
    expect(delivered).toContain('<b>smime-signed-enc-complex</b>');
    expect(delivered.trimEnd().endsWith('--363--')).toBe(true);
  });
});
