import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { splitMultipart } from '../../test/helpers/mime.ts';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { getHeader } from '../mail/index.ts';
import { buildReportMessage, parseTlsRptRecord, renderReport, TlsReportCounter, type TlsAttemptResult, type TlsReport } from './tlsrpt.ts';

const DAY1 = Date.UTC(2026, 2, 1, 10, 0, 0);
const DAY2 = Date.UTC(2026, 2, 2, 23, 59, 59);
const TODAY = Date.UTC(2026, 2, 3, 12, 0, 0);
const STS = ['version: STSv1', 'mode: enforce', 'mx: mx1.dest.test', 'mx: *.backup.dest.test', 'max_age: 86400'];
const TLSA = ['3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'];

const sts = (over: Partial<TlsAttemptResult> = {}): TlsAttemptResult => ({
  policyDomain: 'Dest.test',
  policyType: 'sts',
  policyString: STS,
  mxHost: 'mx1.dest.test',
  sendingIp: '127.0.0.1',
  receivingIp: '127.0.0.10',
  success: true,
  at: DAY1,
  ...over,
});

const ORG = { organizationName: 'Example Org', contactInfo: 'tlsrpt@gateway.test', submitter: 'gateway.test' };

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`TLS-RPT counter on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it.skipIf(!available)('counts sessions per policy and builds the RFC 8460 report', async () => {
      current = await openTestStore(dialect);
      const counter = new TlsReportCounter(current.store, { now: () => TODAY });
      for (let i = 0; i < 3; i++) await counter.record(sts());
      await counter.record(sts({ success: false, failure: 'certificate-expired', failureDetail: 'first' }));
      await counter.record(sts({ success: false, failure: 'certificate-expired', failureDetail: 'certificate has expired\r\nX: y' }));
      await counter.record(sts({ success: false, failure: 'starttls-not-supported', mxHost: 'mx2.backup.dest.test', receivingIp: undefined }));
      await counter.record({ policyDomain: 'dest.test', policyType: 'tlsa', policyString: TLSA, mxHost: 'MX3.dest.test.', sendingIp: '127.0.0.1', success: true, at: DAY1 });
      await counter.record({ policyDomain: 'dest.test', policyType: 'tlsa', policyString: TLSA, mxHost: 'mx3.dest.test', sendingIp: '127.0.0.1', success: false, failure: 'tlsa-invalid', at: DAY1 });
      await counter.record({ policyDomain: 'other.test', policyType: 'no-policy-found', success: true, at: DAY1 + 1000 });
      await counter.record({ policyDomain: 'other.test', policyType: 'no-policy-found', success: false, at: DAY1 + 2000 });
      await counter.record(sts({ at: DAY2 })); // another day

      const reports = await counter.pending('2026-03-01');
      expect(reports.map((r) => [r.policyDomain, r.day])).toEqual([['dest.test', '2026-03-01'], ['other.test', '2026-03-01']]);
      const dest = reports[0].json;
      expect(Object.keys(dest)).toEqual(['organization-name', 'date-range', 'contact-info', 'report-id', 'policies']);
      expect(dest['date-range']).toEqual({ 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' });
      expect(dest.policies).toEqual([
        {
          policy: { 'policy-type': 'sts', 'policy-string': STS, 'policy-domain': 'dest.test', 'mx-host': ['mx1.dest.test', '*.backup.dest.test'] },
          summary: { 'total-successful-session-count': 3, 'total-failure-session-count': 3 },
          'failure-details': [
            { 'result-type': 'certificate-expired', 'sending-mta-ip': '127.0.0.1', 'receiving-mx-hostname': 'mx1.dest.test', 'receiving-ip': '127.0.0.10', 'failed-session-count': 2, 'failure-reason-code': 'certificate has expired X: y' },
            { 'result-type': 'starttls-not-supported', 'sending-mta-ip': '127.0.0.1', 'receiving-mx-hostname': 'mx2.backup.dest.test', 'failed-session-count': 1 },
          ],
        },
        {
          policy: { 'policy-type': 'tlsa', 'policy-string': TLSA, 'policy-domain': 'dest.test', 'mx-host': ['mx3.dest.test'] },
          summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 1 },
          'failure-details': [{ 'result-type': 'tlsa-invalid', 'sending-mta-ip': '127.0.0.1', 'receiving-mx-hostname': 'mx3.dest.test', 'failed-session-count': 1 }],
        },
      ]);
      expect(reports[1].json.policies).toEqual([
        {
          policy: { 'policy-type': 'no-policy-found', 'policy-string': [], 'policy-domain': 'other.test' },
          summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 1 },
          'failure-details': [{ 'result-type': 'validation-failure', 'failed-session-count': 1 }],
        },
      ]);
      expect((await counter.pending('2026-03-02')).map((r) => r.json.policies[0].summary['total-successful-session-count'])).toEqual([1]);
      expect(await counter.pending()).toEqual([]); // today: nothing yet
    });

    it.skipIf(!available)('gives exact counts under 50 concurrent records', async () => {
      current = await openTestStore(dialect);
      const counter = new TlsReportCounter(current.store, { now: () => TODAY });
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          counter.record(i % 5 === 0 ? sts({ success: false, failure: 'certificate-not-trusted', failureDetail: `try ${i}` }) : sts()),
        ),
      );
      const [report] = await counter.pending('2026-03-01');
      const [policy] = report.json.policies;
      expect(policy.summary).toEqual({ 'total-successful-session-count': 40, 'total-failure-session-count': 10 });
      expect(policy['failure-details'].map((f) => [f['result-type'], f['failed-session-count']])).toEqual([['certificate-not-trusted', 10]]);
      expect(policy['failure-details'][0]['failure-reason-code']).toMatch(/^try \d+$/);
    });

    it.skipIf(!available)('lists finished days with unsent reports and forgets sent ones', async () => {
      current = await openTestStore(dialect);
      let now = TODAY;
      const counter = new TlsReportCounter(current.store, { now: () => now });
      await counter.record(sts({ at: DAY1 }));
      await counter.record(sts({ at: DAY1, policyDomain: 'other.test' }));
      await counter.record(sts({ at: DAY2 }));
      await counter.record(sts({ at: TODAY }));
      expect(await counter.dueDays()).toEqual(['2026-03-01', '2026-03-02']);
      expect(await counter.markSent('2026-03-01', 'Dest.test')).toBe(true);
      expect(await counter.markSent('2026-03-01', 'dest.test')).toBe(false); // another node got there first
      expect(await counter.dueDays(TODAY)).toEqual(['2026-03-01', '2026-03-02']);
      expect((await counter.pending('2026-03-01')).map((r) => r.policyDomain)).toEqual(['other.test']);
      await counter.markSent('2026-03-01', 'other.test');
      await counter.markSent('2026-03-02', 'dest.test');
      expect(await counter.dueDays(TODAY)).toEqual([]);
      now = TODAY + 86_400_000;
      expect(await counter.dueDays()).toEqual(['2026-03-03']);
      await counter.prune('2026-03-03');
      expect(await counter.pending('2026-03-01')).toEqual([]);
      expect(await counter.dueDays()).toEqual(['2026-03-03']);
      await expect(counter.pending('2026-02-30')).rejects.toThrow(/YYYY-MM-DD/);
    });
  });
}

const REPORT: TlsReport = {
  policyDomain: 'dest.test',
  day: '2026-03-01',
  json: {
    'organization-name': '',
    'date-range': { 'start-datetime': '2026-03-01T00:00:00Z', 'end-datetime': '2026-03-01T23:59:59Z' },
    'contact-info': '',
    'report-id': '',
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': STS, 'policy-domain': 'dest.test', 'mx-host': ['mx1.dest.test'] },
        summary: { 'total-successful-session-count': 5, 'total-failure-session-count': 1 },
        // Enough distinct entries that the base64 attachment spans several lines.
        'failure-details': Array.from({ length: 40 }, (_, i) => ({ 'result-type': 'certificate-expired' as const, 'sending-mta-ip': `127.0.0.${i}`, 'failed-session-count': i + 1 })),
      },
    ],
  },
};

describe('TLS-RPT report rendering', () => {
  it('fills the sender fields, names the file per RFC 8460 §5.3 and gzips the JSON', () => {
    const rendered = renderReport(REPORT, ORG);
    const begin = Date.UTC(2026, 2, 1) / 1000;
    expect(rendered.filename).toBe(`gateway.test!dest.test!${begin}!${begin + 86_399}.json.gz`);
    expect(rendered.filename).toMatch(/^[a-z0-9.-]+![a-z0-9.-]+!\d+!\d+\.json\.gz$/);
    const json = JSON.parse(gunzipSync(rendered.gzip).toString('utf8'));
    expect(gunzipSync(rendered.gzip).toString('utf8')).toBe(rendered.json);
    expect(json['organization-name']).toBe('Example Org');
    expect(json['contact-info']).toBe('tlsrpt@gateway.test');
    expect(json['report-id']).toBe('20260301.dest.test@gateway.test');
    expect(rendered.reportId).toBe(json['report-id']);
    expect(json.policies).toEqual(REPORT.json.policies);
    expect(() => renderReport(REPORT, { ...ORG, submitter: 'bad!name' })).toThrow(/not a host name/);
  });

  it('builds a multipart/report mail whose attachment decodes to the gzip', () => {
    const rendered = renderReport(REPORT, ORG);
    const date = new Date(Date.UTC(2026, 2, 2, 1, 0, 0));
    const message = buildReportMessage(rendered, { from: 'tlsrpt@gateway.test', to: ['a@dest.test', 'b@dest.test'], policyDomain: 'dest.test', submitter: 'gateway.test', messageId: '<r1@gateway.test>', date });
    const text = message.toString('utf8');
    expect(/\r(?!\n)|(?<!\r)\n/.test(text)).toBe(false);
    const { headers, parts } = splitMultipart(message);
    expect(getHeader(headers, 'Subject')).toBe('Report Domain: dest.test Submitter: gateway.test Report-ID: <20260301.dest.test@gateway.test>');
    expect(getHeader(headers, 'TLS-Report-Domain')).toBe('dest.test');
    expect(getHeader(headers, 'TLS-Report-Submitter')).toBe('gateway.test');
    expect(getHeader(headers, 'TLS-Required')).toBe('No');
    expect(getHeader(headers, 'To')).toBe('a@dest.test, b@dest.test');
    expect(getHeader(headers, 'Date')).toBe('Mon, 02 Mar 2026 01:00:00 +0000');
    expect(getHeader(headers, 'Message-ID')).toBe('<r1@gateway.test>');
    expect(getHeader(headers, 'MIME-Version')).toBe('1.0');
    expect(getHeader(headers, 'Content-Type')).toMatch(/^multipart\/report; report-type="tlsrpt"; boundary="/);
    for (const h of headers) for (const line of h.raw.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);

    expect(parts).toHaveLength(2);
    expect(getHeader(parts[0].headers, 'Content-Type')).toMatch(/^text\/plain/);
    expect(parts[0].body).toContain('aggregate TLS report');
    const attachment = parts[1];
    expect(getHeader(attachment.headers, 'Content-Type')).toBe('application/tlsrpt+gzip');
    expect(getHeader(attachment.headers, 'Content-Transfer-Encoding')).toBe('base64');
    expect(getHeader(attachment.headers, 'Content-Disposition')).toBe(`attachment; filename="${rendered.filename}"`);
    const lines = attachment.body.replace(/\r\n$/, '').split('\r\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(76);
    const gzip = Buffer.from(lines.join(''), 'base64');
    expect(gzip.equals(rendered.gzip)).toBe(true);
    expect(JSON.parse(gunzipSync(gzip).toString())['report-id']).toBe(rendered.reportId);
    expect(() => buildReportMessage(rendered, { from: 'x@gateway.test', to: [], policyDomain: 'dest.test', submitter: 'gateway.test', messageId: '<r2@gateway.test>', date })).toThrow(/no recipient/);
  });
});

describe('parseTlsRptRecord', () => {
  it('reads rua URIs and the mailto addresses we send to', () => {
    expect(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:tlsrpt@dest.test'])).toEqual({ rua: ['mailto:tlsrpt@dest.test'], mailto: ['tlsrpt@dest.test'] });
    expect(parseTlsRptRecord(['v=TLSRPTv1;rua=mailto:a@dest.test, https://reports.dest.test/tlsrpt ,mailto:b%40x@dest.test;'])).toEqual({
      rua: ['mailto:a@dest.test', 'https://reports.dest.test/tlsrpt', 'mailto:b%40x@dest.test'],
      mailto: ['a@dest.test'], // b%40x decodes to two @: not an address we can use
    });
    expect(parseTlsRptRecord([['v=TLSRPTv1; rua=mailto:a@d', 'est.test; ext_1=yes']])).toEqual({ rua: ['mailto:a@dest.test'], mailto: ['a@dest.test'] });
    expect(parseTlsRptRecord(['v=spf1 -all', 'v=TLSRPTv1; rua=https://reports.dest.test/x'])).toEqual({ rua: ['https://reports.dest.test/x'], mailto: [] });
  });

  it('rejects missing, malformed and multiple records', () => {
    expect(parseTlsRptRecord([])).toBeNull();
    expect(parseTlsRptRecord(['v=spf1 -all'])).toBeNull();
    expect(parseTlsRptRecord(['v=TLSRPTv1;'])).toBeNull();
    expect(parseTlsRptRecord(['v=TLSRPTv1; rua='])).toBeNull();
    expect(parseTlsRptRecord(['v=TLSRPTv1; rua=not a uri'])).toBeNull();
    expect(parseTlsRptRecord(['v=TLSRPTv1; garbage'])).toBeNull();
    expect(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@x; rua=mailto:b@x'])).toBeNull();
    expect(parseTlsRptRecord(['rua=mailto:a@x; v=TLSRPTv1'])).toBeNull();
    expect(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@x', 'v=TLSRPTv1; rua=mailto:b@x'])).toBeNull();
  });
});
