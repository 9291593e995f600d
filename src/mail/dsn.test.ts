import { describe, expect, it } from 'vitest';
import { buildDsn, shouldBounce } from './dsn.ts';

describe('buildDsn', () => {
  const base = {
    reportingMta: 'gateway.test',
    arrivalDate: new Date(Date.UTC(2026, 10, 24, 10, 0, 0)),
    now: new Date(Date.UTC(2026, 10, 24, 10, 5, 0)),
    originalEnvelopeId: 'env-1',
    sender: 'alice@sender.test',
    messageId: '<dsn1@gateway.test>',
    originalHeaders: 'Subject: plans\nFrom: alice@sender.test\n',
  };

  it('is an RFC 3464 multipart/report with per-recipient fields', () => {
    const dsn = buildDsn({
      ...base,
      kind: 'failure',
      returnContent: 'HDRS',
      recipients: [{ address: 'bob@dest.test', orcpt: 'rfc822;bob@dest.test', status: '5.1.1', action: 'failed', diagnostic: `smtp; 550 5.1.1 <bob@dest.test>: Recipient address rejected: ${'very long reason '.repeat(20)}`, remoteMta: 'mx.dest.test', lastAttempt: base.now }],
    });
    const boundary = /boundary="([^"]+)"/.exec(dsn)![1];
    const parts = dsn.split(`--${boundary}`);
    expect(parts).toHaveLength(5); // preamble, 3 parts, closing
    expect(parts[4]).toBe('--\r\n');
    expect(dsn).toMatch(/^From: Mail Delivery System <MAILER-DAEMON@gateway\.test>\r\nTo: <alice@sender\.test>\r\nSubject: Undelivered Mail Returned to Sender\r\n/);
    expect(dsn).toContain('Auto-Submitted: auto-replied');
    const status = parts[2];
    expect(status).toContain('Content-Type: message/delivery-status');
    expect(status).toMatch(/Reporting-MTA: dns; gateway\.test\r\nOriginal-Envelope-Id: env-1\r\nArrival-Date: Tue, 24 Nov 2026 10:00:00 \+0000\r\n\r\n/);
    expect(status).toMatch(/Original-Recipient: rfc822;bob@dest\.test\r\nFinal-Recipient: rfc822; bob@dest\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.dest\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1/);
    expect(parts[3]).toContain('Content-Type: text/rfc822-headers\r\nContent-Description: Headers of the original message\r\n\r\nSubject: plans\r\nFrom: alice@sender.test\r\n');
    expect(/\r(?!\n)|(?<!\r)\n/.test(dsn)).toBe(false);
    expect(Math.max(...dsn.split('\r\n').map((l) => l.length))).toBeLessThanOrEqual(998);
  });

  it('reports delays with Will-Retry-Until and can return the full message', () => {
    const delay = buildDsn({ ...base, kind: 'delay', returnContent: 'HDRS', recipients: [{ address: 'bob@dest.test', status: '4.4.1', action: 'delayed', willRetryUntil: new Date(Date.UTC(2026, 10, 29)) }] });
    expect(delay).toContain('Subject: Delayed Mail (still being retried)');
    expect(delay).toContain('Will-Retry-Until: Sun, 29 Nov 2026 00:00:00 +0000');
    const full = buildDsn({ ...base, kind: 'failure', returnContent: 'FULL', originalBody: 'Subject: plans\r\n\r\nbody\r\n', recipients: [{ address: 'b@d.test', status: '5.0.0', action: 'failed' }] });
    expect(full).toContain('Content-Type: message/rfc822\r\nContent-Description: Undelivered message\r\n\r\nSubject: plans\r\n\r\nbody\r\n');
  });

  it('keeps injected line breaks out of the headers', () => {
    const dsn = buildDsn({ ...base, sender: 'a@b.test>\r\nBcc: x@evil.test', kind: 'failure', returnContent: 'HDRS', recipients: [{ address: 'x@y.test', status: '5.0.0', action: 'failed' }] });
    expect(dsn).not.toMatch(/\r\nBcc:/);
  });

  it('never bounces to the null sender or a mailer daemon', () => {
    expect(shouldBounce('')).toBe(false);
    expect(shouldBounce('MAILER-DAEMON@x.test')).toBe(false);
    expect(shouldBounce('alice@x.test')).toBe(true);
  });
});
