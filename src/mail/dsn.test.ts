import { describe, expect, it } from 'vitest';
import { splitMultipart } from '../../test/helpers/mime.ts';
import { buildDsn, shouldBounce, type DsnInput } from './dsn.ts';
import { parseHeaders, getHeader } from './headers.ts';

const base = {
  reportingMta: 'gateway.test',
  arrivalDate: new Date(Date.UTC(2026, 10, 24, 10, 0, 0)),
  now: new Date(Date.UTC(2026, 10, 24, 10, 5, 0)),
  originalEnvelopeId: 'env-1',
  sender: 'alice@sender.test',
  messageId: '<dsn1@gateway.test>',
  originalHeaders: 'Subject: plans\nFrom: alice@sender.test\n\n',
};

/** Groups of `Name: value` fields separated by blank lines (RFC 3464 §2.1). */
function statusGroups(body: string): Record<string, string>[] {
  return body
    .replace(/\r\n$/, '')
    .split('\r\n\r\n')
    .map((group) => Object.fromEntries(parseHeaders(group).map((h) => [h.name, h.value])));
}

function wellFormed(dsn: string): void {
  expect(/\r(?!\n)|(?<!\r)\n/.test(dsn)).toBe(false);
  for (const line of dsn.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
}

const longReply = `550 5.1.1 <bob@dest.test>: Recipient address rejected: ${'very long reason '.repeat(20)}`;

describe('buildDsn', () => {
  it('is an RFC 3464 multipart/report with per-message and per-recipient fields', () => {
    const dsn = buildDsn({
      ...base,
      kind: 'failure',
      recipients: [
        { address: 'bob@dest.test', orcpt: 'rfc822;Bob@dest.test', status: '5.1.1', action: 'failed', diagnostic: `smtp; ${longReply}`, remoteMta: 'mx.dest.test', lastAttempt: base.now },
        { address: 'carol@dest.test', status: '5.7.1', action: 'failed', diagnostic: 'smtp; 554 5.7.1 Refused' },
      ],
    });
    wellFormed(dsn);
    const { headers, parts } = splitMultipart(dsn);
    expect(getHeader(headers, 'From')).toBe('Mail Delivery System <MAILER-DAEMON@gateway.test>');
    expect(getHeader(headers, 'To')).toBe('<alice@sender.test>');
    expect(getHeader(headers, 'Subject')).toBe('Undelivered Mail Returned to Sender');
    expect(getHeader(headers, 'Auto-Submitted')).toBe('auto-replied');
    expect(getHeader(headers, 'Date')).toBe('Tue, 24 Nov 2026 10:05:00 +0000');
    expect(getHeader(headers, 'Message-ID')).toBe('<dsn1@gateway.test>');
    expect(getHeader(headers, 'MIME-Version')).toBe('1.0');
    expect(getHeader(headers, 'Content-Type')).toMatch(/^multipart\/report; report-type=delivery-status; boundary="/);

    expect(parts.map((p) => getHeader(p.headers, 'Content-Type'))).toEqual(['text/plain; charset=utf-8', 'message/delivery-status', 'text/rfc822-headers']);
    expect(parts[0].body).toContain('<bob@dest.test>: host mx.dest.test said: 550 5.1.1');
    expect(parts[0].body).toContain('<carol@dest.test>: 554 5.7.1 Refused');

    const [perMessage, bob, carol] = statusGroups(parts[1].body);
    expect(perMessage).toEqual({ 'Reporting-MTA': 'dns; gateway.test', 'Original-Envelope-Id': 'env-1', 'Arrival-Date': 'Tue, 24 Nov 2026 10:00:00 +0000' });
    expect(bob).toEqual({
      'Original-Recipient': 'rfc822; Bob@dest.test',
      'Final-Recipient': 'rfc822; bob@dest.test',
      Action: 'failed',
      Status: '5.1.1',
      'Remote-MTA': 'dns; mx.dest.test',
      'Diagnostic-Code': `smtp; ${longReply.trim()}`,
      'Last-Attempt-Date': 'Tue, 24 Nov 2026 10:05:00 +0000',
    });
    expect(carol).toEqual({ 'Final-Recipient': 'rfc822; carol@dest.test', Action: 'failed', Status: '5.7.1', 'Diagnostic-Code': 'smtp; 554 5.7.1 Refused' });
    expect(parts[2].body).toBe('Subject: plans\r\nFrom: alice@sender.test\r\n');
  });

  it('reports delays with Will-Retry-Until', () => {
    const dsn = buildDsn({ ...base, originalEnvelopeId: undefined, kind: 'delay', recipients: [{ address: 'bob@dest.test', status: '4.4.1', action: 'delayed', willRetryUntil: new Date(Date.UTC(2026, 10, 29)) }] });
    wellFormed(dsn);
    const { headers, parts } = splitMultipart(dsn);
    expect(getHeader(headers, 'Subject')).toBe('Delayed Mail (still being retried)');
    const [perMessage, bob] = statusGroups(parts[1].body);
    expect(perMessage['Original-Envelope-Id']).toBeUndefined();
    expect(bob['Will-Retry-Until']).toBe('Sun, 29 Nov 2026 00:00:00 +0000');
    expect(bob.Action).toBe('delayed');
    expect(parts[0].body).toContain('Attempts continue until Sun, 29 Nov 2026');
  });

  it('reports success', () => {
    const dsn = buildDsn({ ...base, kind: 'success', recipients: [{ address: 'bob@dest.test', status: '2.0.0', action: 'delivered', remoteMta: 'mx.dest.test' }] });
    expect(getHeader(splitMultipart(dsn).headers, 'Subject')).toBe('Successful Mail Delivery Report');
  });

  it('never returns the body: headers only, without our control headers', () => {
    const dsn = buildDsn({ ...base, kind: 'failure', originalHeaders: 'Subject: plans\r\nSealgate-Secure: passphrase=hunter2\r\nMessage-ID: <m1@sender.test>\r\n\r\nthe body\r\n', recipients: [{ address: 'b@d.test', status: '5.0.0', action: 'failed' }] });
    wellFormed(dsn);
    const { parts } = splitMultipart(dsn);
    expect(parts).toHaveLength(3);
    expect(getHeader(parts[2].headers, 'Content-Type')).toBe('text/rfc822-headers');
    expect(parts[2].body).toBe('Subject: plans\r\nMessage-ID: <m1@sender.test>\r\n');
    expect(dsn).not.toMatch(/the body|hunter2/);
  });

  it('redacts to Message-ID and Date when the original required a protected link', () => {
    const dsn = buildDsn({ ...base, kind: 'delay', redact: true, originalHeaders: 'Subject: merger plans\r\nFrom: <alice@sender.test>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m2@sender.test>\r\n', recipients: [{ address: 'b@d.test', status: '4.4.1', action: 'delayed' }] });
    wellFormed(dsn);
    const { parts } = splitMultipart(dsn);
    expect(parts[2].body).toBe('Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m2@sender.test>\r\n');
    expect(parts[0].body).toMatch(/required\s+a\s+protected\s+link/);
    expect(dsn).not.toMatch(/merger plans/);
  });

  it('keeps injected line breaks out, folds everything under 998 octets', () => {
    const hostile: DsnInput = {
      ...base,
      sender: 'a@b.test>\r\nBcc: x@evil.test',
      originalEnvelopeId: 'e\r\nX-Injected: 1',
      originalHeaders: `Subject: ${'x'.repeat(3000)}\r\nX-Long: ${'word '.repeat(400)}\r\nX-Utf: ${'é'.repeat(1000)}\r\n`,
      kind: 'failure',
      recipients: [{ address: 'x@y.test\nX-Evil: 1', status: '5.0.0\r\nX-Evil: 2', action: 'failed', diagnostic: `smtp; 550-first\r\n550 ${'z'.repeat(2500)}`, remoteMta: 'mx\r\n.test' }],
    };
    const dsn = buildDsn(hostile);
    wellFormed(dsn);
    expect(dsn).not.toMatch(/\r\n(Bcc|X-Evil|X-Injected):/);
    const { headers, parts } = splitMultipart(dsn);
    expect(getHeader(headers, 'To')).toBe('<a@b.test> Bcc: x@evil.test>');
    const [, recipient] = statusGroups(parts[1].body);
    expect(recipient.Status).toBe('5.0.0'); // invalid status replaced by the action's default
    expect(parts[2].body.split('\r\n').length).toBeGreaterThan(4); // the long header lines were folded
  });

  it('gives a bare diagnostic and ORCPT their types', () => {
    const dsn = buildDsn({ ...base, kind: 'failure', recipients: [{ address: 'b@d.test', orcpt: 'b@d.test', status: '5.0.0', action: 'failed', diagnostic: '550 no' }] });
    const [, r] = statusGroups(splitMultipart(dsn).parts[1].body);
    expect(r['Original-Recipient']).toBe('rfc822; b@d.test');
    expect(r['Diagnostic-Code']).toBe('smtp; 550 no');
  });
});

describe('shouldBounce', () => {
  it.each([
    ['', false],
    ['<>', false],
    ['MAILER-DAEMON@x.test', false],
    ['mailer-daemon@x.test', false],
    ['<MAILER-DAEMON@x.test>', false],
    ['alice@x.test', true],
    ['postmaster@x.test', true],
    ['not-mailer-daemon@x.test', true],
  ])('%j → %s', (sender, expected) => {
    expect(shouldBounce(sender)).toBe(expected);
  });
});
