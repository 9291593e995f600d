import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { formatRfc5322Date } from '../mail/index.ts';
import type { Store } from '../store/index.ts';

/** SMTP TLS Reporting (RFC 8460): daily counts per policy domain and the aggregate report mail. */

export type TlsPolicyType = 'sts' | 'tlsa' | 'no-policy-found';

/** RFC 8460 §4.3 result types. */
export type TlsResultType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

export interface TlsAttemptResult {
  policyDomain: string;
  policyType: TlsPolicyType;
  /** The STS policy lines or the TLSA records, as text. */
  policyString?: string[];
  mxHost?: string;
  sendingIp?: string;
  receivingIp?: string;
  success: boolean;
  /** Absent on a failure: counted as `validation-failure`, the RFC's catch-all. */
  failure?: TlsResultType;
  /** Goes to `failure-reason-code` (free text such as a TLS alert); RFC 8460 wants a URI in `additional-information`. */
  failureDetail?: string;
  at: number;
}

export interface TlsRptFailureJson {
  'result-type': TlsResultType;
  'sending-mta-ip'?: string;
  'receiving-mx-hostname'?: string;
  'receiving-ip'?: string;
  'failed-session-count': number;
  'failure-reason-code'?: string;
}

export interface TlsRptPolicyJson {
  policy: { 'policy-type': TlsPolicyType; 'policy-string': string[]; 'policy-domain': string; 'mx-host'?: string[] };
  summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
  'failure-details': TlsRptFailureJson[];
}

/** RFC 8460 §4.4 report. */
export interface TlsRptJson {
  'organization-name': string;
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info': string;
  'report-id': string;
  policies: TlsRptPolicyJson[];
}

/** `pending()` leaves organization-name, contact-info and report-id empty; `renderReport` fills them. */
export interface TlsReport {
  policyDomain: string;
  day: string;
  json: TlsRptJson;
}

export interface RenderedTlsReport {
  filename: string;
  gzip: Buffer;
  json: string;
  /** Also in the JSON; the mail Subject repeats it as `<report-id>`. */
  reportId: string;
}

const DAY_MS = 86_400_000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayStart(day: string): number {
  const start = Date.parse(`${day}T00:00:00Z`);
  if (!DAY.test(day) || Number.isNaN(start) || dayOf(start) !== day) {
    throw new Error(`TLS-RPT day "${day}" is not a UTC date in the form YYYY-MM-DD.`);
  }
  return start;
}

function domainName(value: string): string {
  return value.trim().toLowerCase().replace(/\.$/, '');
}

function oneLine(value: string): string {
  return value.replace(/[\r\n\0]+/g, ' ').trim();
}

/** The `mx:` patterns of an MTA-STS policy text (RFC 8460 §4.4 mx-host for sts). */
function stsMxPatterns(lines: string[]): string[] {
  return lines.flatMap((line) => {
    const match = /^\s*mx\s*:\s*(\S+)\s*$/i.exec(line);
    return match ? [match[1].toLowerCase()] : [];
  });
}

export class TlsReportCounter {
  private readonly store: Store;
  private readonly now: () => number;

  constructor(store: Store, options: { now?: () => number } = {}) {
    this.store = store;
    this.now = options.now ?? Date.now;
  }

  /** Counts one session; both upserts add to whatever other nodes counted at the same time. */
  async record(result: TlsAttemptResult): Promise<void> {
    const policyDomain = domainName(result.policyDomain);
    if (!policyDomain) throw new Error('TLS-RPT result has no policy domain; pass the recipient domain the policy was looked up for.');
    if (!Number.isFinite(result.at)) throw new Error('TLS-RPT result has no valid time (at); pass the attempt time in epoch milliseconds.');
    const policyString = JSON.stringify(result.policyString ?? []);
    const key = {
      day: dayOf(result.at),
      policy_domain: policyDomain,
      policy_type: result.policyType,
      policy_hash: createHash('sha256').update(`${result.policyType}\n${policyString}`).digest('hex'),
      // TLSA records belong to one MX; the other policies cover the whole domain.
      mx_host: result.policyType === 'tlsa' && result.mxHost ? domainName(result.mxHost) : '',
    };
    const success = result.success ? 1 : 0;
    await this.store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('tlsrpt_counts')
        .values({ ...key, policy_string: policyString, success_count: success, failure_count: 1 - success })
        .onConflict((oc) =>
          oc.columns(['day', 'policy_domain', 'policy_type', 'policy_hash', 'mx_host']).doUpdateSet((eb) => ({
            success_count: eb('tlsrpt_counts.success_count', '+', success),
            failure_count: eb('tlsrpt_counts.failure_count', '+', 1 - success),
          })),
        )
        .execute();
      if (result.success) return;
      const reason = result.failureDetail ? oneLine(result.failureDetail).slice(0, 500) : null;
      await trx
        .insertInto('tlsrpt_failures')
        .values({
          ...key,
          result_type: result.failure ?? 'validation-failure',
          sending_ip: result.sendingIp ?? '',
          receiving_mx: result.mxHost ? domainName(result.mxHost) : '',
          receiving_ip: result.receivingIp ?? '',
          reason_code: reason,
          count: 1,
        })
        .onConflict((oc) =>
          oc.columns(['day', 'policy_domain', 'policy_type', 'policy_hash', 'mx_host', 'result_type', 'sending_ip', 'receiving_mx', 'receiving_ip']).doUpdateSet((eb) => ({
            count: eb('tlsrpt_failures.count', '+', 1),
            reason_code: eb.fn.coalesce(eb.ref('excluded.reason_code'), eb.ref('tlsrpt_failures.reason_code')),
          })),
        )
        .execute();
    });
  }

  /** One report per policy domain with counts on that day and no report sent yet. */
  async pending(day: string = dayOf(this.now())): Promise<TlsReport[]> {
    dayStart(day);
    const db = this.store.db;
    const sent = new Set((await db.selectFrom('tlsrpt_sent').select('policy_domain').where('day', '=', day).execute()).map((r) => r.policy_domain));
    const counts = (await db.selectFrom('tlsrpt_counts').selectAll().where('day', '=', day).execute()).filter((r) => !sent.has(r.policy_domain));
    const failures = await db.selectFrom('tlsrpt_failures').selectAll().where('day', '=', day).execute();
    const order = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    counts.sort((a, b) => order(a.policy_domain, b.policy_domain) || order(a.policy_type, b.policy_type) || order(a.mx_host, b.mx_host) || order(a.policy_hash, b.policy_hash));
    failures.sort((a, b) => order(a.result_type, b.result_type) || order(a.receiving_mx, b.receiving_mx) || order(a.receiving_ip, b.receiving_ip) || order(a.sending_ip, b.sending_ip));

    const reports = new Map<string, TlsReport>();
    for (const row of counts) {
      let report = reports.get(row.policy_domain);
      if (!report) {
        report = {
          policyDomain: row.policy_domain,
          day,
          json: {
            'organization-name': '',
            'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
            'contact-info': '',
            'report-id': '',
            policies: [],
          },
        };
        reports.set(row.policy_domain, report);
      }
      const policyString = JSON.parse(row.policy_string) as string[];
      const mxHost = row.policy_type === 'sts' ? stsMxPatterns(policyString) : row.mx_host ? [row.mx_host] : [];
      const details = failures
        .filter((f) => f.policy_domain === row.policy_domain && f.policy_type === row.policy_type && f.policy_hash === row.policy_hash && f.mx_host === row.mx_host)
        .map((f): TlsRptFailureJson => ({
          'result-type': f.result_type as TlsResultType,
          ...(f.sending_ip && { 'sending-mta-ip': f.sending_ip }),
          ...(f.receiving_mx && { 'receiving-mx-hostname': f.receiving_mx }),
          ...(f.receiving_ip && { 'receiving-ip': f.receiving_ip }),
          'failed-session-count': Number(f.count),
          ...(f.reason_code && { 'failure-reason-code': f.reason_code }),
        }));
      report.json.policies.push({
        policy: {
          'policy-type': row.policy_type as TlsPolicyType,
          'policy-string': policyString,
          'policy-domain': row.policy_domain,
          ...(mxHost.length > 0 && { 'mx-host': mxHost }),
        },
        summary: { 'total-successful-session-count': Number(row.success_count), 'total-failure-session-count': Number(row.failure_count) },
        'failure-details': details,
      });
    }
    return [...reports.values()];
  }

  /**
   * Marks a report sent; true only for the caller that marked it first, so of several cluster
   * nodes exactly one sends each report (claimed before it is queued: at most once).
   */
  async markSent(day: string, policyDomain: string): Promise<boolean> {
    dayStart(day);
    const result = await this.store.db
      .insertInto('tlsrpt_sent')
      .values({ day, policy_domain: domainName(policyDomain), sent_at: this.now() })
      .onConflict((oc) => oc.columns(['day', 'policy_domain']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Finished UTC days (before today) that still have a policy domain without a sent report. */
  async dueDays(now: number = this.now()): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom('tlsrpt_counts as c')
      .leftJoin('tlsrpt_sent as s', (join) => join.onRef('s.day', '=', 'c.day').onRef('s.policy_domain', '=', 'c.policy_domain'))
      .select('c.day')
      .distinct()
      .where('c.day', '<', dayOf(now))
      .where('s.day', 'is', null)
      .orderBy('c.day')
      .execute();
    return rows.map((r) => r.day);
  }

  /** Drops counts and sent marks of days before `beforeDay` (reports are kept nowhere else). */
  async prune(beforeDay: string): Promise<void> {
    dayStart(beforeDay);
    const db = this.store.db;
    await db.deleteFrom('tlsrpt_failures').where('day', '<', beforeDay).execute();
    await db.deleteFrom('tlsrpt_counts').where('day', '<', beforeDay).execute();
    await db.deleteFrom('tlsrpt_sent').where('day', '<', beforeDay).execute();
  }
}

/** RFC 5322 id-left/id-right keep to atext and dots: a report id that is also a valid msg-id. */
function atext(value: string): string {
  return value.replace(/[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/g, '-');
}

function checkHostname(value: string, what: string): string {
  const name = domainName(value);
  if (!HOSTNAME.test(name)) throw new Error(`TLS-RPT ${what} "${value}" is not a host name; set it to the DNS name of this gateway or organisation.`);
  return name;
}

/**
 * The finished report: org fields filled in, gzip-compressed, with the RFC 8460 §5.3 file
 * name. The report id is a function of day, domain and submitter, so a report re-sent after
 * a crash (sent, but not yet marked sent) carries the same id and the receiver can drop it.
 */
export function renderReport(report: TlsReport, org: { organizationName: string; contactInfo: string; submitter: string }): RenderedTlsReport {
  const submitter = checkHostname(org.submitter, 'submitter');
  const policyDomain = checkHostname(report.policyDomain, 'policy domain');
  const begin = dayStart(report.day) / 1000;
  const end = begin + DAY_MS / 1000 - 1;
  const reportId = `${report.day.replaceAll('-', '')}.${atext(policyDomain)}@${atext(submitter)}`;
  const json: TlsRptJson = {
    'organization-name': oneLine(org.organizationName),
    'date-range': report.json['date-range'],
    'contact-info': oneLine(org.contactInfo),
    'report-id': reportId,
    policies: report.json.policies,
  };
  const text = JSON.stringify(json);
  return { filename: `${submitter}!${policyDomain}!${begin}!${end}.json.gz`, gzip: gzipSync(Buffer.from(text, 'utf8')), json: text, reportId };
}

/**
 * RFC 8460 §3 record at `_smtp._tls.<domain>`: records not starting with `v=TLSRPTv1;` are
 * ignored, and anything but exactly one remaining valid record means no reporting. `rua` keeps
 * every URI; `mailto` holds the addresses we send to. https URIs are listed but never POSTed.
 * Each entry is one TXT record (an array of character-strings is joined first).
 */
export function parseTlsRptRecord(txt: (string | string[])[]): { rua: string[]; mailto: string[] } | null {
  const records = txt.map((r) => (Array.isArray(r) ? r.join('') : r)).filter((r) => /^v=TLSRPTv1[ \t]*;/.test(r));
  if (records.length !== 1) return null;
  const fields = records[0].split(';').map((f) => f.trim());
  if (fields.at(-1) === '') fields.pop(); // a trailing ';' is allowed
  let rua: string[] | undefined;
  for (const field of fields.slice(1)) {
    const eq = field.indexOf('=');
    if (eq <= 0) return null;
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1).trim();
    if (name === 'rua') {
      if (rua) return null;
      rua = value.split(',').map((u) => u.trim());
      if (rua.some((u) => !/^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/.test(u))) return null;
    } else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(name) || !/^[\x21-\x3a\x3c\x3e-\x7e]+$/.test(value)) {
      return null; // unknown fields are fine, malformed ones are not
    }
  }
  if (!rua || rua.length === 0) return null;
  const mailto = rua
    .filter((u) => /^mailto:/i.test(u))
    .flatMap((u) => {
      try {
        return decodeURIComponent(u.slice('mailto:'.length).split('?')[0]).split(',');
      } catch {
        return [];
      }
    })
    .map((a) => a.trim())
    .filter((a) => /^[^\s@<>]+@[^\s@<>]+$/.test(a));
  return { rua, mailto };
}

/** Folds a header at blanks to about 78 characters (RFC 5322 §2.2.3). */
function foldHeader(line: string): string {
  const words = line.split(' ');
  const lines: string[] = [];
  let current = words.shift() ?? '';
  for (const word of words) {
    if (current.length + 1 + word.length > 78) {
      lines.push(current);
      current = ` ${word}`;
    } else {
      current += ` ${word}`;
    }
  }
  lines.push(current);
  return lines.join('\r\n');
}

/**
 * The RFC 8460 §5.3 report mail: multipart/report with report-type "tlsrpt", a short text part
 * and the gzipped report. `TLS-Required: No` (RFC 8689 §5) because a report about a broken TLS
 * setup must still get through. RFC 8460 also wants the mail DKIM-signed by the submitter.
 */
export function buildReportMessage(
  rendered: RenderedTlsReport,
  options: { from: string; to: string[]; policyDomain: string; submitter: string; messageId: string; date: Date },
): Buffer {
  if (options.to.length === 0) throw new Error('TLS-RPT report has no recipient; the rua of the policy domain lists no mailto: address.');
  const policyDomain = checkHostname(options.policyDomain, 'policy domain');
  const submitter = checkHostname(options.submitter, 'submitter');
  const report = JSON.parse(rendered.json) as TlsRptJson;
  const boundary = `sealgate-tlsrpt-${randomBytes(12).toString('hex')}`;
  const headers = [
    `From: ${oneLine(options.from)}`,
    `To: ${options.to.map(oneLine).join(', ')}`,
    `Subject: Report Domain: ${policyDomain} Submitter: ${submitter} Report-ID: <${rendered.reportId}>`,
    `Date: ${formatRfc5322Date(options.date)}`,
    `Message-ID: ${oneLine(options.messageId)}`,
    `TLS-Report-Domain: ${policyDomain}`,
    `TLS-Report-Submitter: ${submitter}`,
    'TLS-Required: No',
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
  ].map(foldHeader);
  const range = report['date-range'];
  const text = [
    `This is an aggregate TLS report (RFC 8460) from ${submitter} for ${policyDomain},`,
    `covering ${range['start-datetime']} to ${range['end-datetime']}.`,
    'The report is attached as gzip-compressed JSON.',
  ].join('\r\n');
  const base64 = rendered.gzip.toString('base64').replace(/.{76}(?=.)/g, '$&\r\n');
  const body = [
    'This is a multipart message in MIME format.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="us-ascii"',
    'Content-Transfer-Encoding: 7bit',
    '',
    text,
    '',
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment;\r\n filename="${rendered.filename}"`,
    '',
    base64,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}
