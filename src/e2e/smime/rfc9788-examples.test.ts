/**
 * RFC 9788 Appendix D (composition) and E (rendering) examples through our S/MIME reader. The
 * RFC prints their Cryptographic Payloads and Outer Header Sections as text, not the CMS layers,
 * so openssl wraps each payload as the RFC describes (signed-data, then enveloped-data for RFC
 * 9216's Bob, §5.3) under the outer header section the RFC gives (D.1.2.2, D.2.2.2) or, for
 * Appendix E, the one its HP-Outer fields record. The examples' senders are at example.net, for
 * which RFC 9216 has no certificate: each is signed by a test CA's certificate for its From
 * address (a signer that does not match From is `invalid`). A reader must then deliver what the
 * RFC says a compatible MUA renders. Fixtures and sources: test/fixtures/standards/rfc9788/.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPeers } from '../../../test/helpers/peers.ts';
import { createTestPki } from '../../../test/integration/18-smime/pki.ts';
import type { TestPki } from '../../../test/integration/18-smime/pki.ts';
import { bodyOf, openAsBob, STANDARDS, text, values, vector } from '../../../test/helpers/rfc9788-vectors.ts';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const base64Lines = (der: Buffer) => `${der.toString('base64').replace(/.{64}/g, '$&\r\n').replace(/\r\n$/, '')}\r\n`;
const cms = (args: string[], input: Buffer) => execFileSync('openssl', ['cms', ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });

/** The payload signed by `signer` and encrypted to RFC 9216's Bob (S/MIME, as D.1.2.2 describes), under `outer`. */
function seal(payload: string, outer: string, signer: { certPath: string; keyPath: string }): Buffer {
  const signed = cms(['-sign', '-nodetach', '-binary', '-md', 'sha256', '-signer', signer.certPath, '-inkey', signer.keyPath, '-outform', 'DER'], Buffer.from(crlf(payload), 'latin1'));
  const signedPart = `Content-Type: application/pkcs7-mime; name="smime.p7m";\r\n smime-type="signed-data"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(signed)}`;
  const enveloped = cms(['-encrypt', '-binary', '-aes256', '-outform', 'DER', path.join(STANDARDS, 'rfc9216', 'bob-enc-cert.pem')], Buffer.from(signedPart, 'latin1'));
  return Buffer.from(`${crlf(outer).replace(/\r\n$/, '')}\r\n\r\n${base64Lines(enveloped)}`, 'latin1');
}

/** An outer header section from the payload's HP-Outer fields: what its composer put outside. */
const outerFromHpOuter = (payload: string) =>
  `${values(payload, 'HP-Outer').join('\n')}\nContent-Transfer-Encoding: base64\nContent-Type: application/pkcs7-mime; name="smime.p7m";\n smime-type="enveloped-data"\nMIME-Version: 1.0\n`;

const FIELDS = ['Date', 'From', 'To', 'Subject', 'Message-ID', 'In-Reply-To', 'References'];

describeWithPeers(['openssl'], 'RFC 9788 Appendix D and E examples, sealed by openssl', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createTestPki([
      { name: 'bob', address: 'bob@example.net', key: 'rsa' },
      { name: 'alice', address: 'alice@example.net', key: 'rsa' },
    ]);
  }, 60_000);
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));
  /** Sealed by the payload's From, opened with RFC 9216 Bob's key, the test CA trusted too. */
  const sealAndOpen = (payload: string, outer: string, sender: 'alice' | 'bob') => openAsBob(seal(payload, outer, pki.user(sender)), [readFileSync(pki.caPath)]);

  describe('Appendix D: composition examples, read back', () => {
    for (const [payload, outer, unprotected, sender, what] of [
      ['d1.2.1-payload-hcp-baseline-legacy.eml', 'd1.2.2-outer-header-section.txt', 'd1.1-unprotected.eml', 'bob', 'D.1.2 (new message, hcp_baseline + Legacy Display)'],
      ['d2.2.1-payload-hcp-no-confidentiality-legacy-reply.eml', 'd2.2.2-outer-header-section.txt', 'd2.1-unprotected-reply.eml', 'alice', 'D.2.2 (reply, hcp_no_confidentiality + Legacy Display, Subject obscured after the message replied to)'],
    ] as const) {
      it(`${what}: decrypted and valid, the outside's "[...]" replaced, HP-Outer and the Legacy Display Element gone; the header fields and body are the unprotected message's (${unprotected})`, async () => {
        expect(values(text(vector(outer)), 'Subject')[0]).toMatch(/\[\.\.\.\]$/);
        const result = await sealAndOpen(text(vector(payload)), text(vector(outer)), sender);
        expect(result).toMatchObject({ decrypted: true, malleable: false, signature: { state: 'valid', signer: `${sender}@example.net` } });
        const delivered = text(result.message);
        const expected = crlf(text(vector(unprotected)));
        for (const name of FIELDS) expect(values(delivered, name), name).toEqual(values(expected, name));
        expect(values(delivered, 'HP-Outer')).toEqual([]);
        expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="us-ascii"']);
        expect(bodyOf(delivered)).toBe(bodyOf(expected));
      });
    }
  });

  describe('Appendix E: rendering examples', () => {
    it('E.1 (text/plain with a Legacy Display Element): the body a compatible MUA renders is the paragraph alone', async () => {
      const payload = text(vector('e1-text-plain-legacy-display.eml'));
      const result = await sealAndOpen(payload, outerFromHpOuter(payload), 'alice');
      expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@example.net' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual(['Dinner plans']);
      expect(values(delivered, 'HP-Outer')).toEqual([]);
      expect(values(delivered, 'Content-Type')).toEqual(['text/plain; charset="us-ascii"']);
      expect(bodyOf(delivered)).toBe("Let's meet at Rama's Roti Shop at 8pm and go to the park\r\nfrom there.\r\n");
    });

    it('E.2 (text/html with a Legacy Display div): the div is masked out, the paragraph and the document around it stay', async () => {
      const payload = text(vector('e2-text-html-legacy-display.eml'));
      const result = await sealAndOpen(payload, outerFromHpOuter(payload), 'alice');
      expect(result).toMatchObject({ decrypted: true, signature: { state: 'valid', signer: 'alice@example.net' } });
      const delivered = text(result.message);
      expect(values(delivered, 'Subject')).toEqual(['Dinner plans']);
      expect(values(delivered, 'Content-Type')).toEqual(['text/html; charset="us-ascii"']);
      const body = bodyOf(delivered);
      expect(body).not.toContain('header-protection-legacy-display');
      expect(body).not.toContain('Subject: Dinner plans');
      expect(body.startsWith('<html><head><title></title></head><body>\r\n')).toBe(true);
      expect(body).toContain("<p>\r\nLet's meet at Rama's Roti Shop at 8pm and go to the park\r\nfrom there.\r\n</p>\r\n</body>\r\n</html>\r\n");
    });
  });
});

describe('RFC 9788 Appendix D/E fixtures', () => {
  it('each Cryptographic Payload records, in HP-Outer, exactly the outer header section the RFC gives for it', () => {
    for (const [payload, outer] of [
      ['d1.2.1-payload-hcp-baseline-legacy.eml', 'd1.2.2-outer-header-section.txt'],
      ['d2.2.1-payload-hcp-no-confidentiality-legacy-reply.eml', 'd2.2.2-outer-header-section.txt'],
    ]) {
      const outside = text(vector(outer));
      expect(values(text(vector(payload)), 'HP-Outer')).toEqual(FIELDS.flatMap((name) => values(outside, name).map((v) => `${name}: ${v}`)));
    }
  });
});
