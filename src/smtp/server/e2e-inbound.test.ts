import { describe, expect, it } from 'vitest';
import { parseHeaders } from '../../mail/index.ts';
import { encodeHeaderLine } from '../../mail/index.ts';
import { fromAddress, protectionOf, resultValue } from './e2e-inbound.ts';

const headers = (...lines: string[]) => parseHeaders(`${lines.join('\r\n')}\r\n\r\n`);

describe('which inbound messages the e2e step opens', () => {
  it('knows PGP/MIME and S/MIME by their top-level Content-Type, any case and folding', () => {
    expect(protectionOf(headers('Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=x'))).toEqual({ kind: 'openpgp', encrypted: true });
    expect(protectionOf(headers('content-type: Multipart/Signed;\r\n\tmicalg=pgp-sha256; protocol=application/pgp-signature; boundary=x'))).toEqual({ kind: 'openpgp', encrypted: false });
    expect(protectionOf(headers('Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; boundary=x'))).toEqual({ kind: 'smime', encrypted: false });
    expect(protectionOf(headers('Content-Type: application/pkcs7-mime; smime-type=enveloped-data'))).toEqual({ kind: 'smime', encrypted: true });
    expect(protectionOf(headers('Content-Type: application/x-pkcs7-mime; smime-type="signed-data"'))).toEqual({ kind: 'smime', encrypted: false });
  });

  it('streams everything else, and claims nothing when Content-Type is doubled', () => {
    expect(protectionOf(headers('Content-Type: multipart/mixed; boundary=x'))).toBeNull();
    expect(protectionOf(headers('Content-Type: multipart/encrypted; protocol="application/x-unknown"; boundary=x'))).toBeNull();
    expect(protectionOf(headers('Subject: none'))).toBeNull();
    expect(protectionOf(headers('Content-Type: text/plain', 'Content-Type: multipart/signed; protocol="application/pgp-signature"; boundary=x'))).toBeNull();
  });
});

describe('the From address a verdict is checked against', () => {
  it('takes the one address, ignoring display names, quotes and comments', () => {
    expect(fromAddress('Alice <Alice@Sender.TEST>')).toBe('alice@sender.test');
    expect(fromAddress('alice@sender.test')).toBe('alice@sender.test');
    expect(fromAddress('"Bob, <bob@corp.test>" <alice@sender.test>')).toBe('alice@sender.test');
    expect(fromAddress('(ceo@corp.test) alice@sender.test')).toBe('alice@sender.test');
  });

  it('takes none of several or of garbage', () => {
    expect(fromAddress('a@x.test, b@y.test')).toBeNull();
    expect(fromAddress('undisclosed')).toBeNull();
    expect(fromAddress(undefined)).toBeNull();
  });
});

describe('the Sealgate-E2E-Result value', () => {
  it('says every fact, in a fixed order', () => {
    const signedAt = new Date('2026-12-02T10:00:00Z');
    expect(resultValue('gw.test', { kind: 'openpgp', decrypted: true, signature: { state: 'valid', signer: 'alice@sender.test', keyId: 'ABCD', signedAt }, keySource: 'wkd', malleable: false, replay: 'no' }))
      .toBe('gw.test; kind=openpgp; decrypted=yes; signature=valid; signer="alice@sender.test"; key="ABCD"; key-source=wkd; signed-at=2026-12-02T10:00:00.000Z; malleable=no; replay=no');
    expect(resultValue('gw.test', { kind: 'smime', decrypted: true, signature: null, malleable: true, replay: 'not-checked' }))
      .toBe('gw.test; kind=smime; decrypted=yes; signature=none; malleable=yes; replay=not-checked');
  });

  it('quotes what an attacker chose so it cannot add fields, lines or a second verdict', () => {
    const signer = 'x"; signature=valid; replay=no\r\nSealgate-E2E-Result: forged\u0000é';
    const value = resultValue('gw.test', { kind: 'openpgp', decrypted: false, signature: { state: 'invalid', signer, keyId: 'K', reason: 'bad "sig"\n' }, malleable: false, replay: 'not-checked' });
    expect(value).toContain('signer="x?; signature=valid; replay=no??Sealgate-E2E-Result: forged??"');
    expect(value.match(/signature=/g)).toHaveLength(2);
    const line = encodeHeaderLine('Sealgate-E2E-Result', value).toString('latin1');
    expect(line.slice(0, -2)).not.toMatch(/\r\n(?![\t ])/);
  });
});
