import { expect, it } from 'vitest';
import { parseHeaders } from '../../mail/index.ts';
import { unwrapProtected } from './header-protection.ts';

const outer = parseHeaders('Received: from a by b; Thu, 03 Dec 2026 12:00:00 +0000\r\nFrom: alice@example.test\r\nTo: bob@example.test\r\nSubject: ...\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="x"');
const payload = (hp: string) =>
  Buffer.from(
    [
      `Content-Type: text/plain; charset=utf-8; hp-legacy-display="1"; hp="${hp}"`,
      'Subject: Quarterly numbers',
      'From: alice@example.test',
      'To: bob@example.test',
      'HP-Outer: Subject: ...',
      '',
      'Subject: Quarterly numbers',
      '',
      'The numbers are in.',
      '',
    ].join('\r\n'),
  );

it('drops the Legacy Display Element of a decrypted PGP/MIME payload, as the S/MIME reader does (RFC 9788 §4.5.3)', () => {
  const delivered = unwrapProtected(outer, payload('cipher')).toString('latin1');
  expect(delivered).toMatch(/^Subject: Quarterly numbers\r\n/m);
  expect(delivered).not.toMatch(/hp-legacy-display/);
  expect(delivered.split('\r\n\r\n').slice(1).join('\r\n\r\n')).toBe('The numbers are in.\r\n');
  // Signed only (hp="clear"): no encryption layer, so no Legacy Display Element to recognise (§4.5.3.1).
  expect(unwrapProtected(outer, payload('clear')).toString('latin1')).toContain('\r\n\r\nSubject: Quarterly numbers\r\n\r\nThe numbers are in.');
});
