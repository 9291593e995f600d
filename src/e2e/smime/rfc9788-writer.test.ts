/**
 * Our writer held to what RFC 9788 says a reader finds (openssl decrypts and verifies, then the
 * payload is read as §2.1.1 and §2.2 say): encrypted, `hp="cipher"` plus one HP-Outer copy of
 * every field the outside shows; signed only, `hp="clear"` and no HP-Outer. Signed with RFC
 * 9216's Alice (test/fixtures/standards/rfc9216/).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../../../test/helpers/peers.ts';
import { createTestPki, SAMPLE_MESSAGE } from '../../../test/integration/18-smime/pki.ts';
import type { TestPki } from '../../../test/integration/18-smime/pki.ts';
import { createSmimeProtector } from './index.ts';
import { headerBlock, rfc9216, STANDARDS, text, values } from '../../../test/helpers/rfc9788-vectors.ts';

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
