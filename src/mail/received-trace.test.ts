/**
 * The header analysis on real-world Received chains (test/fixtures/received/, each file's
 * source in its README). The expected transports and verdicts were written by hand from
 * reading each stamp, not from the parser's output.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReceivedHeader } from './received.ts';
import { analyzeTrace, parseReceived, type HopTransport, type TraceVerdict } from './received-trace.ts';
import { parseTraceDate } from './trace-date.ts';

const DIR = path.resolve(import.meta.dirname, '../../test/fixtures/received');
const load = (name: string) => analyzeTrace(readFileSync(path.join(DIR, name), 'latin1'));

const CODE: Record<string, HopTransport> = { T: 'tls', P: 'plain', L: 'local', '?': 'unknown' };

/** file → hop transports oldest first (T tls, P plain, L local, ? unknown), verdict, summary. */
const CORPUS: [string, string, TraceVerdict, string][] = [
  ['postfix-suse-vger.eml', 'TTTTPLP', 'tls-on-some-hops', 'TLS on 4 of 6 hops'],
  ['microsoft365-mapi-kontron.eml', 'LTTLT', 'tls-on-every-hop', 'TLS on every hop (3)'],
  ['microsoft365-frontend-amd.eml', 'TTTTTLT', 'tls-on-every-hop', 'TLS on every hop (6)'],
  ['exim-halon-microsoft-xen.eml', 'LTTPLLL?T', 'tls-on-some-hops', 'TLS on 3 of 5 hops (1 not knowable)'],
  ['sendmail-amavis-csgroup.eml', 'LLPLLPPPTLT', 'tls-on-some-hops', 'TLS on 2 of 6 hops'],
  ['rfc5322-a4-trace.eml', '?P', 'tls-on-some-hops', 'TLS on 0 of 2 hops (1 not knowable)'],
  ['exim-gnu-qemu.eml', 'TTTLT', 'tls-on-every-hop', 'TLS on every hop (4)'],
  ['gmail-submission-ozlabs.eml', 'TLTLT', 'tls-on-every-hop', 'TLS on every hop (3)'],
  ['gmail-mx-googlegroups.eml', 'TLTLLT', 'tls-on-every-hop', 'TLS on every hop (3)'],
  ['stalwart-frappe.eml', 'T', 'tls-on-every-hop', 'TLS on every hop (1)'],
  ['mimecast-redhat.eml', 'PTTTLTT', 'tls-on-some-hops', 'TLS on 5 of 6 hops'],
  ['sendmail-exim-inberlin.eml', 'PTTPLP', 'tls-on-some-hops', 'TLS on 2 of 5 hops'],
  ['proofpoint-microsoft-cirrus.eml', 'TTTTTTLTLTT', 'tls-on-every-hop', 'TLS on every hop (9)'],
];

describe('the Received corpus', () => {
  it.each(CORPUS)('%s', (file, transports, verdict, summary) => {
    const analysis = load(file);
    expect(analysis.hops.map((h) => h.transport)).toEqual([...transports].map((c) => CODE[c]));
    expect(analysis.hops.map((h) => h.index)).toEqual(analysis.hops.map((_, i) => i + 1));
    expect(analysis.verdict).toBe(verdict);
    expect(analysis.summary).toBe(summary);
  });

  it('every fixture is listed with its source in the README', () => {
    const readme = readFileSync(path.join(DIR, 'README.md'), 'utf8');
    for (const [file] of CORPUS) expect(readme).toContain(`\`${file}\``);
  });

  it('reads Postfix, Sendmail and Microsoft TLS clauses into version and cipher', () => {
    const suse = load('postfix-suse-vger.eml').hops;
    expect(suse[2]).toMatchObject({ from: 'imap2.suse-dmz.suse.de', fromIp: '192.168.254.74', by: 'smtp-out2.suse.de', with: 'ESMTPS', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, time: '2022-11-13T01:53:41.000Z', delaySeconds: 1 });
    // The vger hop: a quoted "EHLO …" inside the comment, and the port after the address literal.
    expect(suse[4]).toMatchObject({ from: 'lindbergh.monkeyblade.net', fromIp: '23.128.96.19', by: 'vger.kernel.org', with: 'ESMTP', tls: null, time: '2022-11-13T01:53:44.000Z' });
    const sendmail = load('sendmail-amavis-csgroup.eml').hops[1];
    expect(sendmail).toMatchObject({ with: 'ESMTPS', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, transport: 'local' });
    const microsoft = load('microsoft365-frontend-amd.eml').hops;
    expect(microsoft[0]).toMatchObject({ from: 'srishanm-Cloudripper.amd.com', fromIp: '10.180.168.240', by: 'SATLEXMB04.amd.com', with: 'Microsoft SMTP Server', tls: { version: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' } });
    expect(microsoft[2]).toMatchObject({ via: 'Frontend Transport', fromIp: '2a01:111:f403:f902::2' });
    // The date of the oldest hop is in -0600: 00:39:53 there.
    expect(microsoft[0].time).toBe('2024-02-24T06:39:53.000Z');
    expect(microsoft[1].delaySeconds).toBe(2);
  });

  it('reads both Exim forms, Gmail and Stalwart', () => {
    const exim = load('exim-gnu-qemu.eml').hops;
    // Exim 4.98: `with esmtpsa  (TLS1.3) tls TLS_AES_256_GCM_SHA384` (RFC 8314 §4.3 tls clause); 4.90 (GnuTLS): `(TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256)`.
    expect(exim[0]).toMatchObject({ from: 'MUA', with: 'esmtpsa', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } });
    expect(exim[1]).toMatchObject({ fromIp: '145.239.82.108', with: 'esmtps', tls: { version: 'TLSv1.2', cipher: 'ECDHE_RSA_AES_256_GCM_SHA384' }, delaySeconds: 3136 });
    const gmail = load('gmail-mx-googlegroups.eml').hops;
    expect(gmail[0]).toMatchObject({ by: 'smtp.gmail.com', with: 'ESMTPSA', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } });
    expect(gmail[1]).toMatchObject({ from: null, by: 'mail-pl1-x636.google.com', with: 'SMTP', transport: 'local' });
    expect(gmail[2]).toMatchObject({ by: 'gmr-mx.google.com', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' } });
    const [stalwart] = load('stalwart-frappe.eml').hops;
    // The nested `(AS16509 Amazon.com, Inc., IN)` comment stays inside the from clause's TCP-info.
    expect(stalwart).toMatchObject({ from: 'outbound.frappemail.com', fromIp: '13.232.52.137', by: 'inbound.frappemail.com', with: 'ESMTPS', tls: { version: 'TLSv1.3', cipher: 'TLS13_AES_256_GCM_SHA384' } });
  });

  it('reads Mimecast (two with clauses), Proofpoint and Exim esmtpa (authenticated, not encrypted)', () => {
    const mimecast = load('mimecast-redhat.eml').hops[2];
    expect(mimecast).toMatchObject({ by: 'relay.mimecast.com', with: 'ESMTP', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, transport: 'tls' });
    const proofpoint = load('proofpoint-microsoft-cirrus.eml').hops;
    expect(proofpoint[5]).toMatchObject({ by: 'mx0b-001ae601.pphosted.com', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } });
    expect(proofpoint[6]).toMatchObject({ from: 'pps.filterd', fromIp: '127.0.0.1', transport: 'local' });
    const [apple] = load('sendmail-exim-inberlin.eml').hops;
    expect(apple).toMatchObject({ fromIp: '217.197.86.42', with: 'esmtpa', tls: null, transport: 'plain' });
  });

  it('counts hops on one host as not network hops, with the reason', () => {
    const [mapi] = load('microsoft365-mapi-kontron.eml').hops;
    expect(mapi).toMatchObject({ with: 'mapi', transport: 'local' });
    expect(mapi.reason).toMatch(/not SMTP between hosts/);
    const listexpand = load('postfix-suse-vger.eml').hops[5];
    expect(listexpand).toMatchObject({ from: null, by: 'vger.kernel.org', via: 'listexpand', transport: 'local' });
  });
});

describe('Sealgate reads its own stamp', () => {
  const date = new Date(Date.UTC(2026, 10, 24, 14, 47, 40));
  const value = (header: Buffer) => header.toString('latin1').replace(/^Received:\s*/, '').replace(/\r\n[ \t]+/g, ' ').trim();

  it('with the TLS clause', () => {
    const hop = parseReceived(value(formatReceivedHeader({ fromHelo: 'client.example', fromHost: 'client.example', fromIp: '192.0.2.7', byHost: 'mx.sealgate.example', protocol: 'ESMTPS', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: 256 }, queueId: 'Q1', forRecipient: 'bob@a.example', date })));
    expect(hop).toMatchObject({ from: 'client.example', fromIp: '192.0.2.7', by: 'mx.sealgate.example', with: 'ESMTPS', id: 'Q1', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, transport: 'tls', time: '2026-11-24T14:47:40.000Z' });
  });

  it('without TLS, and an authenticated submission over loopback', () => {
    expect(parseReceived(value(formatReceivedHeader({ fromHelo: 'c.example', fromIp: '192.0.2.8', byHost: 'mx', protocol: 'ESMTP', date }))).transport).toBe('plain');
    expect(parseReceived(value(formatReceivedHeader({ fromHelo: 'c', fromIp: '127.0.0.1', byHost: 'mx', protocol: 'ESMTPSA', authenticatedAs: 'alice@a.example', date }))).transport).toBe('local');
  });
});

describe('parseTraceDate', () => {
  it('reads zones, comments, obsolete zone names and two-digit years (RFC 5322 §4.3)', () => {
    expect(parseTraceDate(' Sat, 12 Nov 2022 17:53:43 -0800 (PST)')).toBe(Date.UTC(2022, 10, 13, 1, 53, 43));
    expect(parseTraceDate('  21 Nov 1997 10:05:43 -0600')).toBe(Date.UTC(1997, 10, 21, 16, 5, 43));
    expect(parseTraceDate('Wed, 21 Dec 2022 16:53:42 GMT')).toBe(Date.UTC(2022, 11, 21, 16, 53, 42));
    expect(parseTraceDate('Thu, 1 Jan 98 00:00 EST')).toBe(Date.UTC(1998, 0, 1, 5, 0, 0));
    expect(parseTraceDate('not a date')).toBeNull();
    expect(parseTraceDate('32 Jan 2020 10:00:00 +0000')).toBeNull();
  });
});

describe('analyzeTrace', () => {
  it('says when there is nothing to judge', () => {
    expect(analyzeTrace('Subject: x\r\n\r\nbody')).toMatchObject({ hops: [], verdict: 'not-knowable', summary: 'not knowable: the message has no Received fields' });
  });
});
