import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsaFromCertPem } from '../../test/helpers/tlsa.ts';
import { matchDane, usableTlsaRecords } from './dane.ts';
import type { TlsaRecord } from './dane.ts';

interface Pki {
  caPem: string;
  leafPem: string;
  otherPem: string;
  intermediatePem: string;
  wildcardLeafPem: string;
  partialWildcardLeafPem: string;
}

let dir: string;
let pki: Pki;

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
const leafExt = (san: string) => `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A P-256 certificate signed by `issuer` (or self-signed), with the given extensions. */
function makeCert(name: string, subject: string, ext: string, issuer?: string): string {
  const base = path.join(dir, name);
  writeFileSync(`${base}.ext`, ext);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', subject, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
  const signer = issuer ? ['-CA', path.join(dir, `${issuer}.crt`), '-CAkey', path.join(dir, `${issuer}.key`)] : ['-key', `${base}.key`];
  openssl(['x509', '-req', '-in', `${base}.csr`, ...signer, '-set_serial', String(Math.floor(Math.random() * 1e9)), '-days', '30', '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
  return readFileSync(`${base}.crt`, 'utf8');
}

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

function record(pem: string, usage: 2 | 3, selector: 0 | 1, matching: 0 | 1 | 2): TlsaRecord {
  const fields = tlsaFromCertPem(pem, usage, selector, matching);
  return { usage: fields.usage, selector: fields.selector, matchingType: fields.matchingType, data: Buffer.from(fields.hex, 'hex') };
}

const FAR_FUTURE = new Date('2100-01-01T00:00:00Z');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sealgate-dane-'));
  const caPem = makeCert('ca', '/CN=DANE Test CA', CA_EXT);
  pki = {
    caPem,
    leafPem: makeCert('leaf', '/CN=mx.secure.test', leafExt('DNS:mx.secure.test'), 'ca'),
    otherPem: makeCert('other', '/CN=unrelated.example', leafExt('DNS:unrelated.example')),
    intermediatePem: makeCert('intermediate', '/CN=DANE Test Intermediate', CA_EXT, 'ca'),
    wildcardLeafPem: makeCert('wildcard', '/CN=*.secure.test', leafExt('DNS:*.secure.test'), 'intermediate'),
    partialWildcardLeafPem: makeCert('partial', '/CN=m*.secure.test', leafExt('DNS:m*.secure.test'), 'ca'),
  };
}, 30_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('usableTlsaRecords', () => {
  it('keeps DANE-TA and DANE-EE and drops PKIX usages, unknown selectors and matching types', () => {
    const digest = Buffer.alloc(32, 1);
    const records: TlsaRecord[] = [
      { usage: 0, selector: 1, matchingType: 1, data: digest },
      { usage: 1, selector: 1, matchingType: 1, data: digest },
      { usage: 3, selector: 1, matchingType: 1, data: digest },
      { usage: 2, selector: 0, matchingType: 1, data: digest },
      { usage: 3, selector: 1, matchingType: 7, data: digest },
      { usage: 3, selector: 2, matchingType: 1, data: digest },
      { usage: 3, selector: 1, matchingType: 2, data: digest }, // SHA-512 needs 64 bytes
    ];
    const result = usableTlsaRecords(records);
    expect(result.usable).toBe(true);
    if (result.usable) expect(result.records).toEqual([records[2], records[3]]);
  });

  it('says why when nothing is left', () => {
    const result = usableTlsaRecords([{ usage: 1, selector: 0, matchingType: 1, data: Buffer.alloc(32) }]);
    expect(result).toEqual({ usable: false, reason: expect.stringContaining('usage 1 is not usable for SMTP') });
    expect(usableTlsaRecords([])).toEqual({ usable: false, reason: 'there are no TLSA records' });
  });
});

describe('matchDane with DANE-EE(3)', () => {
  const chain = () => [der(pki.leafPem), der(pki.caPem)];

  it('matches 3 1 1 on the public key', () => {
    const result = matchDane(chain(), [record(pki.leafPem, 3, 1, 1)], ['mx.secure.test']);
    expect(result).toEqual({ matched: true, usage: 3, selector: 1, matchingType: 1, depth: 0, reason: "TLSA 3 1 1 matched the server's public key" });
  });

  it('matches 3 0 1 on the whole certificate', () => {
    const result = matchDane(chain(), [record(pki.leafPem, 3, 0, 1)], ['mx.secure.test']);
    expect(result).toMatchObject({ matched: true, selector: 0, reason: "TLSA 3 0 1 matched the server's certificate" });
  });

  it.each([[1, 2], [1, 0], [0, 2], [0, 0]] as const)('matches 3 %i %i', (selector, matching) => {
    const result = matchDane(chain(), [record(pki.leafPem, 3, selector, matching)], []);
    expect(result).toMatchObject({ matched: true, usage: 3, selector, matchingType: matching, depth: 0 });
  });

  it('does not match 3 1 1 of another key', () => {
    const records = [record(pki.otherPem, 3, 1, 1), record(pki.otherPem, 3, 0, 2), record(pki.caPem, 3, 1, 1)];
    const result = matchDane(chain(), records, ['mx.secure.test']);
    expect(result).toEqual({ matched: false, reason: 'no TLSA record matched the certificate chain (3 record(s) checked)' });
  });

  it('ignores names and expiry: an unrelated self-signed certificate still matches', () => {
    const result = matchDane([der(pki.otherPem)], [record(pki.otherPem, 3, 1, 1)], ['mx.secure.test'], FAR_FUTURE);
    expect(result.matched).toBe(true);
  });

  it('skips an unusable record and matches the next one', () => {
    const pkix = { ...record(pki.leafPem, 3, 1, 1), usage: 1 };
    const result = matchDane(chain(), [pkix, record(pki.leafPem, 3, 1, 1)], []);
    expect(result).toMatchObject({ matched: true, usage: 3 });
  });
});

describe('matchDane with DANE-TA(2)', () => {
  const chain = () => [der(pki.leafPem), der(pki.caPem)];

  it('matches 2 0 1 on the CA with the right name', () => {
    const result = matchDane(chain(), [record(pki.caPem, 2, 0, 1)], ['secure.test', 'MX.Secure.Test.']);
    expect(result).toMatchObject({ matched: true, usage: 2, selector: 0, matchingType: 1, depth: 1 });
    expect(result.reason).toContain('"DANE Test CA" at depth 1');
  });

  it('does not match when the leaf does not carry a reference name', () => {
    const result = matchDane(chain(), [record(pki.caPem, 2, 0, 1)], ['mail.elsewhere.test']);
    expect(result.matched).toBe(false);
    expect(result.reason).toContain('is not valid for mail.elsewhere.test');
  });

  it('does not match when the chain is outside its validity window', () => {
    const result = matchDane(chain(), [record(pki.caPem, 2, 0, 1)], ['mx.secure.test'], FAR_FUTURE);
    expect(result.matched).toBe(false);
    expect(result.reason).toMatch(/depth 0 .* expired on/);
  });

  it('does not let a TA record match the leaf itself', () => {
    const result = matchDane(chain(), [record(pki.leafPem, 2, 0, 1)], ['mx.secure.test']);
    expect(result.matched).toBe(false);
  });

  it('does not match a CA that did not issue the leaf', () => {
    const result = matchDane([der(pki.leafPem), der(pki.otherPem)], [record(pki.otherPem, 2, 1, 1)], ['mx.secure.test']);
    expect(result.matched).toBe(false);
    expect(result.reason).toContain('was not issued by the one at depth 1');
  });

  it('walks an intermediate up to a root anchor and accepts a leftmost wildcard', () => {
    const longChain = [der(pki.wildcardLeafPem), der(pki.intermediatePem), der(pki.caPem)];
    const result = matchDane(longChain, [record(pki.caPem, 2, 1, 2)], ['mx.secure.test']);
    expect(result).toMatchObject({ matched: true, depth: 2 });
    expect(matchDane(longChain, [record(pki.caPem, 2, 1, 2)], ['a.b.secure.test']).matched).toBe(false);
  });

  it('rejects a partial wildcard label', () => {
    const result = matchDane([der(pki.partialWildcardLeafPem), der(pki.caPem)], [record(pki.caPem, 2, 0, 1)], ['mx.secure.test']);
    expect(result.matched).toBe(false);
  });

  it('accepts a 2 1 0 bare key when the anchor certificate is not in the chain', () => {
    const result = matchDane([der(pki.leafPem)], [record(pki.caPem, 2, 1, 0)], ['mx.secure.test']);
    expect(result).toMatchObject({ matched: true, usage: 2, selector: 1, matchingType: 0, depth: 1 });
    // A digest cannot stand in for a missing anchor certificate.
    expect(matchDane([der(pki.leafPem)], [record(pki.caPem, 2, 1, 1)], ['mx.secure.test']).matched).toBe(false);
  });
});

describe('matchDane with bad input', () => {
  it('does not throw on malformed DER', () => {
    const garbage = Buffer.from('not a certificate at all');
    expect(matchDane([garbage], [record(pki.leafPem, 3, 1, 1)], ['mx.secure.test'])).toEqual({ matched: false, reason: "the server's certificate could not be parsed as X.509 DER" });
    const garbageAnchor: TlsaRecord = { usage: 2, selector: 0, matchingType: 0, data: garbage };
    const result = matchDane([der(pki.leafPem), garbage], [record(pki.caPem, 2, 0, 1), garbageAnchor], ['mx.secure.test']);
    expect(result).toEqual({ matched: false, reason: expect.stringContaining('the certificate at depth 1 could not be parsed') });
  });

  it('reports an empty chain and unusable record sets', () => {
    expect(matchDane([], [record(pki.leafPem, 3, 1, 1)], [])).toEqual({ matched: false, reason: 'the server presented no certificate' });
    expect(matchDane([der(pki.leafPem)], [], []).matched).toBe(false);
  });
});
