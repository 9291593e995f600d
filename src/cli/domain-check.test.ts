import { expect, it } from 'vitest';
import { CHECK_EXIT, exitCodeOf, formatCheck, type CheckedMx, type CheckReport } from './domain-check.ts';

const unreachableMx: CheckedMx = {
  host: 'mx1.example.test',
  priority: 10,
  port: 25,
  addresses: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
  unreachable: [
    { ip: '192.0.2.1', stage: 'connect', error: 'connect ECONNREFUSED 192.0.2.1:25' },
    { ip: '192.0.2.2', stage: 'connect', error: 'connect timeout after 10000 ms' },
    { ip: '192.0.2.3', stage: 'greeting', error: 'greeting refused: 554 5.3.2 not now' },
  ],
  ip: null,
  greeting: null,
  starttlsOffered: false,
  tls: null,
  dane: { status: 'dnssec-not-checked', detail: null, tlsa: [] },
  requireTlsAdvertised: false,
  policyNote: null,
  errors: [],
  reached: false,
  level: null,
  recorded: null,
};

const report = (mx: CheckedMx[]): CheckReport => ({
  domain: 'example.test',
  mxCount: mx.length,
  reachedCount: mx.filter((m) => m.reached).length,
  level: null,
  dnssec: { checked: false, mxSecure: false, bogus: null },
  mtaSts: null,
  mtaStsError: null,
  tlsRpt: [],
  pin: null,
  mx,
  exitCode: 69,
});

it('exit codes: 0 every MX reached, 75 some, 69 none', () => {
  expect(exitCodeOf(2, 2)).toBe(CHECK_EXIT.ok);
  expect(exitCodeOf(2, 1)).toBe(75);
  expect(exitCodeOf(2, 0)).toBe(69);
  expect(exitCodeOf(0, 0)).toBe(69);
});

it('an MX no address of which gave a session: each address with why (connect or greeting), no TLS, REQUIRETLS or level lines', () => {
  expect(formatCheck(report([unreachableMx]))).toBe(
    [
      'example.test: 1 MX host(s), none could be reached',
      '  DNSSEC: DNSSEC not checked (no validating resolver configured: delivery.dnssecResolvers)',
      '  MTA-STS: no policy',
      '  TLS-RPT: no report address',
      '  pinned minimum: none',
      '  mx1.example.test (priority 10)',
      '      [192.0.2.1]:25 unreachable: connect ECONNREFUSED 192.0.2.1:25',
      '      [192.0.2.2]:25 unreachable: connect timeout after 10000 ms',
      '      [192.0.2.3]:25 connected, but no SMTP session: greeting refused: 554 5.3.2 not now',
    ].join('\n'),
  );
});

it('a reached MX keeps each error on a line of its own, after the REQUIRETLS line', () => {
  const mx: CheckedMx = { ...unreachableMx, unreachable: [], reached: true, ip: '192.0.2.1', greeting: '220 mx ESMTP', starttlsOffered: true, errors: ['TLS handshake with mx1.example.test failed: wrong version number'], level: 'none', recorded: { level: 'none', expiresAt: Date.UTC(2026, 11, 3), kept: false } };
  const text = formatCheck({ ...report([mx]), reachedCount: 1, level: 'none' });
  expect(text).toContain('example.test: 1 MX host(s), all reached; every MX reaches at least level none');
  expect(text).toContain(
    [
      '      REQUIRETLS not advertised',
      '      error: TLS handshake with mx1.example.test failed: wrong version number',
      '      recorded: level none, holds until 2026-12-03 00:00:00 UTC',
    ].join('\n'),
  );
  expect(text).toContain('      STARTTLS offered; no TLS session (see the error below)');
});
