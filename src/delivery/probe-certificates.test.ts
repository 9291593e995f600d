import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { certificateFacts, nameCheck } from './probe-certificates.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'probe-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// openssl, as the peers' certificates are made (test/helpers/ca.ts).
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/O=Example/CN=example.test', '-addext', 'subjectAltName=DNS:*.example.test,DNS:example.test', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
const cert = new X509Certificate(readFileSync(path.join(dir, 'c.pem')));
const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');

it('lists subject, issuer, validity and the SHA-256 fingerprints of the certificate and its SPKI', () => {
  const [facts] = certificateFacts([cert.raw]);
  expect(facts).toEqual({
    subject: 'O=Example, CN=example.test',
    issuer: 'O=Example, CN=example.test',
    validFrom: cert.validFromDate.getTime(),
    validTo: cert.validToDate.getTime(),
    sha256: cert.fingerprint256,
    spkiSha256: hex(createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest()),
  });
});

it('still fingerprints a certificate it cannot parse', () => {
  const junk = Buffer.from('not a certificate');
  expect(certificateFacts([junk])[0]).toMatchObject({ subject: '(not parsable as X.509)', sha256: hex(createHash('sha256').update(junk).digest()), spkiSha256: null });
});

it('names the certificate name that matched, wildcards as one whole leftmost label only', () => {
  expect(nameCheck(cert.raw, 'mx.example.test')).toEqual({ checked: 'mx.example.test', matchedBy: '*.example.test', certificateNames: ['*.example.test', 'example.test'] });
  expect(nameCheck(cert.raw, 'example.test').matchedBy).toBe('example.test');
  expect(nameCheck(cert.raw, 'a.mx.example.test').matchedBy).toBeNull();
  expect(nameCheck(cert.raw, 'mx.other.test').matchedBy).toBeNull();
  expect(nameCheck(undefined, 'mx.example.test')).toEqual({ checked: 'mx.example.test', matchedBy: null, certificateNames: [] });
});
