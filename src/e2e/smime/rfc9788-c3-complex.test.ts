/**
 * RFC 9788 Appendix C.3.9–C.3.17 (signed-and-encrypted complex messages and replies: a
 * multipart/mixed holding a multipart/alternative and an inline image/png, hcp_baseline and
 * hcp_shy, with and without Legacy Display Elements; C.3.17 the RFC 8551 wrapping) through our
 * S/MIME reader. Vectors and sources: test/fixtures/standards/rfc9788/ and its README.
 */
import { describe, expect, it } from 'vitest';
import { bodyOf, openAsBob, text, values, vector } from '../../../test/helpers/rfc9788-vectors.ts';

// From each vector's "Decrypted and Unwrapped" section: [file, protected Subject (and Message-ID
// local part), multipart/mixed boundary, multipart/alternative boundary, hcp_shy's protected Date
// (null: hcp_baseline), the message it answers (null: not a reply), Legacy Display Elements].
const COMPLEX = [
  ['c3.9-smime-signed-enc-complex-hp-baseline.eml', 'smime-signed-enc-complex-hp-baseline', '3a3', 'f31', null, null, false],
  ['c3.10-smime-signed-enc-complex-hp-baseline-legacy.eml', 'smime-signed-enc-complex-hp-baseline-legacy', '3c5', 'af3', null, null, true],
  ['c3.11-smime-signed-enc-complex-hp-shy.eml', 'smime-signed-enc-complex-hp-shy', 'eb4', 'aab', 'Sat, 20 Feb 2021 12:12:02 -0500', null, false],
  ['c3.12-smime-signed-enc-complex-hp-shy-legacy.eml', 'smime-signed-enc-complex-hp-shy-legacy', '88b', '6bd', 'Sat, 20 Feb 2021 12:13:02 -0500', null, true],
  ['c3.13-smime-signed-enc-complex-hp-baseline-reply.eml', 'smime-signed-enc-complex-hp-baseline-reply', '8ec', 'bce', null, 'smime-signed-enc-complex-hp-baseline', false],
  ['c3.14-smime-signed-enc-complex-hp-baseline-legacy-reply.eml', 'smime-signed-enc-complex-hp-baseline-lgc-rpl', 'bed', '828', null, 'smime-signed-enc-complex-hp-baseline-legacy', true],
  ['c3.15-smime-signed-enc-complex-hp-shy-reply.eml', 'smime-signed-enc-complex-hp-shy-reply', '230', '4c8', 'Sat, 20 Feb 2021 12:18:02 -0500', 'smime-signed-enc-complex-hp-shy', false],
  ['c3.16-smime-signed-enc-complex-hp-shy-legacy-reply.eml', 'smime-signed-enc-complex-hp-shy-legacy-reply', '242', 'da7', 'Sat, 20 Feb 2021 12:19:02 -0500', 'smime-signed-enc-complex-hp-shy-legacy', true],
] as const;

describe('RFC 9788 C.3.9–C.3.16: complex messages', () => {
  for (const [file, subject, mixed, alternative, shyDate, parent, legacy] of COMPLEX) {
    it(`${file}: decrypted with Bob's key, valid; the protected Subject${shyDate ? ', From and Date' : ''}${parent ? ', In-Reply-To and References' : ''} once each, no HP-Outer, the MIME tree and the inline image kept${legacy ? ', both Legacy Display Elements (text/plain block, text/html div, §4.5.3) gone with their parameters' : ''}`, async () => {
      const message = vector(file);
      expect(values(text(message), 'Subject')).toEqual(['[...]']);
      if (shyDate) expect(values(text(message), 'From')).toEqual(['alice@smime.example']);
      const result = await openAsBob(message);
      expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual([subject]);
      expect(values(delivered, 'Message-ID')).toEqual([`<${subject}@example>`]);
      expect(values(delivered, 'From')).toEqual(['Alice <alice@smime.example>']);
      expect(values(delivered, 'To')).toEqual(['Bob <bob@smime.example>']);
      if (shyDate) expect(values(delivered, 'Date')).toEqual([shyDate]);
      expect(values(delivered, 'In-Reply-To')).toEqual(parent ? [`<${parent}@example>`] : []);
      expect(values(delivered, 'References')).toEqual(parent ? [`<${parent}@example>`] : []);
      expect(values(delivered, 'HP-Outer')).toEqual([]);
      // hp="cipher" is dropped once the fields are taken out: what is delivered claims nothing.
      expect(values(delivered, 'Content-Type')).toEqual([`multipart/mixed; boundary="${mixed}"`]);
      const body = bodyOf(delivered);
      expect(body).toContain(`Content-Type: multipart/alternative; boundary="${alternative}"`);
      expect(body).toContain(`\r\n\r\nThis is the\r\n${subject}\r\nmessage.\r\n`);
      expect(body).toContain(`<html><head><title></title></head><body>\r\n<p>This is the\r\n<b>${subject}</b>\r\nmessage.</p>`);
      expect(body).toContain('Content-Disposition: inline\r\n\r\niVBORw0KGgo');
      expect(body.trimEnd().endsWith(`--${mixed}--`)).toBe(true);
      expect(body).not.toContain('hp-legacy-display');
      expect(body).not.toContain('header-protection-legacy-display');
      for (const line of ['Subject:', 'From:', 'Date:']) expect(body).not.toContain(line);
    });
  }
});

describe('RFC 9788 C.3.17: encrypted legacy RFC 8551 header protection (§4.10)', () => {
  it('c3.17 (enveloped signedData around message/rfc822, hcp_baseline outside): decrypted and valid; delivered as signed, the message/rfc822 whole under the outside\'s "[...]" (§4.10: rendering it as Header Protection is a MAY we do not take)', async () => {
    const result = await openAsBob(vector('c3.17-smime-signed-enc-complex-rfc8551hp-baseline.eml'));
    expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: 'alice@smime.example' } });
    const delivered = text(result.message);
    // No hp parameter anywhere, which is how §4.10.1 tells RFC8551HP from this document's scheme.
    expect(delivered).not.toContain('hp=');
    expect(values(delivered, 'Subject')).toEqual(['[...]']);
    expect(values(delivered, 'Content-Type')).toEqual(['message/rfc822']);
    const inner = bodyOf(delivered);
    expect(values(inner, 'Subject')).toEqual(['smime-enc-signed-complex-rfc8551hp-baseline']);
    expect(values(inner, 'Message-ID')).toEqual(['<smime-enc-signed-complex-rfc8551hp-baseline@example>']);
    expect(values(inner, 'Content-Type')).toEqual(['multipart/mixed; boundary="144"']);
    expect(inner).toContain('Content-Type: multipart/alternative; boundary="579"');
    expect(inner).toContain('<b>smime-enc-signed-complex-rfc8551hp-baseline</b>');
    expect(inner).toContain('Content-Disposition: inline\r\n\r\niVBORw0KGgo');
    expect(inner.trimEnd().endsWith('--144--')).toBe(true);
  });
});
