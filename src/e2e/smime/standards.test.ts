/**
 * RFC 9216's sample S/MIME material (test/fixtures/standards/rfc9216/, sources in its README)
 * through our S/MIME layer: Alice's signing certificate chains to the sample RSA CA, and a
 * message signed with her published private key verifies against that CA, with her address.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAMPLE_MESSAGE } from '../../../test/integration/18-smime/pki.ts';
import { createSmimeProtector } from './index.ts';

const DIR = path.resolve(import.meta.dirname, '../../../test/fixtures/standards/rfc9216');
const fixture = (name: string) => readFileSync(path.join(DIR, name));
const now = new Date('2026-12-02T00:00:00Z');

describe('RFC 9216 sample keys and certificates', () => {
  it("signs with Alice's RFC 9216 key (§4.2) and verifies against the sample RSA CA (§3), signer alice@smime.example", async () => {
    const protector = createSmimeProtector();
    const signer = { kind: 'smime' as const, address: 'alice@smime.example', key: fixture('alice-sign-key.pem'), certificates: [fixture('alice-sign-cert.pem')] };
    const message = Buffer.from(SAMPLE_MESSAGE.replace(/alice@example\.test/g, 'alice@smime.example'));
    const signed = await protector.protect(message, { sign: true, encrypt: false, recipients: [], signer, now });
    const result = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: [fixture('rsa-ca-cert.pem')], now });
    expect(result.signature).toMatchObject({ state: 'valid', signer: 'alice@smime.example' });
    // Against another anchor the same signature has no trusted chain.
    const other = await protector.unprotect(signed, { decryptionKeys: [], verificationKeys: [], trustAnchors: [fixture('alice-sign-cert.pem')], now });
    expect(other.signature?.state).not.toBe('valid');
  });
});
