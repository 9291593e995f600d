import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import type { AuthenticateResult } from 'mailauth';
import { MailError, type Envelope, type Logger } from '../kernel/index.ts';
import type { Resolver } from '../dns/index.ts';
import { loadMailauth, signingKey } from './mailauth-loader.ts';
import { authResolver } from './resolver.ts';

/** Who handed us the message, as the SMTP session saw it. */
export interface InboundClient {
  ip: string;
  helo: string;
  mailFrom: string;
}

export interface ArcSealKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
}

export interface InboundAuthOptions {
  /** Our authserv-id (RFC 8601 §2.5): the host name, as in our Received line. */
  hostname: string;
  resolver: Resolver;
  /** Whether a DMARC `reject`/`quarantine` is acted on for mail to these recipients (else verdict only). */
  enforceFor(recipients: string[]): boolean;
  /** The RSA key ARC-seals what we relay (RFC 8617 allows rsa-sha256 only); none: not sealed. */
  arcSealKey?: () => Promise<ArcSealKey | undefined>;
  logger: Logger;
}

export type DmarcAction = 'accept' | 'quarantine' | 'reject';

export interface InboundVerdict {
  /** Authentication-Results (and an ARC set when sealing), CRLF-terminated, to prepend on relay. */
  headers: string;
  action: DmarcAction;
  /** The From domain and what failed, for the 5xx text and the quarantine header. */
  reason: string;
  spf: string;
  dkim: string;
  dmarc: string;
}

/** The header the mailbox server files on (Sieve `header :contains "Sealgate-Quarantine"`). */
export const QUARANTINE_HEADER = 'Sealgate-Quarantine';

function resultOf(status: { result?: string } | undefined): string {
  return status?.result ?? 'none';
}

/**
 * RFC 8601 §5: Authentication-Results goes above the other trace fields; lenient mailauth
 * puts its Received-SPF first. The ARC set keeps its order below it.
 */
function authResultsOnTop(headers: string): string {
  const fields = headers.split(/\r\n(?![ \t])/).filter((f) => f.length);
  const isAr = (f: string) => /^authentication-results:/i.test(f);
  return `${[...fields.filter(isAr), ...fields.filter((f) => !isAr(f))].join('\r\n')}\r\n`;
}

/** Reads mailauth's answer into what ingress acts on. */
export function verdictOf(result: AuthenticateResult, enforce: boolean): InboundVerdict {
  const spf = result.spf ? resultOf(result.spf.status) : 'none';
  const dkimResults = result.dkim?.results ?? [];
  const dkim = dkimResults.find((r) => r.status?.result === 'pass') ? 'pass' : resultOf(dkimResults[0]?.status);
  const dmarcResult = result.dmarc || undefined;
  const dmarc = dmarcResult ? resultOf(dmarcResult.status) : 'none';
  const policy = dmarcResult?.policy ?? 'none';
  const from = dmarcResult?.domain ? (dmarcResult.status as { header?: { from?: string } }).header?.from ?? dmarcResult.domain : '';
  const reason = `DMARC ${dmarc} for ${from || 'the From domain'} (policy ${policy}; SPF ${spf}, DKIM ${dkim})`;
  let action: DmarcAction = 'accept';
  if (enforce && dmarc === 'fail') action = policy === 'reject' ? 'reject' : policy === 'quarantine' ? 'quarantine' : 'accept';
  // RFC 7489 §6.6.1 / RFC 9989 §5.3.1: with several From: fields or author domains DMARC
  // cannot be evaluated, and a reader may be shown any of them: a second From: would
  // otherwise carry a p=reject domain past us unchecked.
  const skipped = (result as { dmarcSkipReason?: string }).dmarcSkipReason;
  if (enforce && !dmarcResult && (skipped === 'multiple-from-fields' || skipped === 'multiple-author-domains')) {
    return { headers: authResultsOnTop(result.headers), action: 'reject', reason: `DMARC cannot be checked: the message has ${skipped === 'multiple-from-fields' ? 'more than one From: field' : 'authors in more than one domain'} (RFC 7489 6.6.1)`, spf, dkim, dmarc: 'permerror' };
  }
  let headers = authResultsOnTop(result.headers);
  if (action === 'quarantine') headers = `${QUARANTINE_HEADER}: yes; ${reason}\r\n${headers}`;
  return { headers, action, reason, spf, dkim, dmarc };
}

/** When mailauth itself fails: a temporary verdict in the header, never a silent pass. */
function failedVerdict(hostname: string, error: Error): InboundVerdict {
  const note = error.message.replace(/[\r\n()]/g, ' ').slice(0, 120);
  return {
    headers: `Authentication-Results: ${hostname};\r\n spf=temperror (${note});\r\n dkim=temperror;\r\n dmarc=temperror\r\n`,
    action: 'accept',
    reason: `verification failed: ${note}`,
    spf: 'temperror',
    dkim: 'temperror',
    dmarc: 'temperror',
  };
}

/** Runs SPF, DKIM, ARC and DMARC over one message as received (a stream or bytes). */
export async function verifyInbound(message: NodeJS.ReadableStream | Buffer, client: InboundClient, recipients: string[], options: InboundAuthOptions): Promise<InboundVerdict> {
  const seal = await options.arcSealKey?.();
  // mailauth (with undici and its BIMI stack, ~40 MB resident) loads at the first message
  // checked, not at start: a listener process that never receives inbound mail never holds it.
  const { authenticate } = await loadMailauth();
  try {
    const result = await authenticate(message as Buffer, {
      ip: client.ip,
      helo: client.helo,
      sender: client.mailFrom,
      mta: options.hostname,
      resolver: authResolver(options.resolver) as never,
      disableBimi: true,
      // RFC 8301 §3.1: rsa-sha1 signatures are not valid (dkim=policy), so they cannot carry DMARC.
      rejectRsaSha1: true,
      seal: seal ? { signingDomain: seal.domain, selector: seal.selector, privateKey: signingKey(seal.privateKeyPem) as never } : undefined,
    });
    return verdictOf(result, options.enforceFor(recipients));
  } catch (error) {
    options.logger.error({ err: (error as Error).message }, 'inbound authentication failed; recorded as temperror');
    return failedVerdict(options.hostname, error as Error);
  }
}

/**
 * The ingress hook: passes the message through unchanged while mailauth reads a copy, and
 * holds back the end of the stream until the verdict is in. So the queue commits (and the
 * client gets 250) only after it, a DMARC reject aborts the enqueue and becomes the 5xx at the
 * end of DATA, and the verdict headers ride in the envelope, prepended when relaying.
 */
export class InboundAuthTap extends Transform {
  private readonly copy = new PassThrough();
  private readonly verdict: Promise<InboundVerdict>;
  private readonly envelope: Envelope;

  constructor(envelope: Envelope, client: InboundClient, options: InboundAuthOptions) {
    super();
    this.envelope = envelope;
    this.verdict = verifyInbound(this.copy, client, envelope.recipients.map((r) => r.address), options);
    this.verdict.catch(() => undefined);
    // Should mailauth stop reading early (it failed), the rest of the copy is dropped, not waited on.
    void this.verdict.finally(() => this.copy.resume());
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.push(chunk);
    // mailauth's pace bounds ours: the copy is never buffered without limit.
    if (this.copy.write(chunk)) done();
    else this.copy.once('drain', () => done());
  }

  override _flush(done: TransformCallback): void {
    this.copy.end();
    this.verdict.then(
      (verdict) => {
        if (verdict.action === 'reject') {
          const why = verdict.dmarc === 'permerror' ? 'send it with a single author' : "the sender's domain asks receivers to reject such mail";
          done(new MailError(550, '5.7.1', `Message refused: ${verdict.reason}; ${why}`, 'auth'));
          return;
        }
        this.envelope.authHeaders = verdict.headers;
        if (verdict.action === 'quarantine') this.envelope.quarantine = verdict.reason;
        done();
      },
      (error: Error) => done(error),
    );
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.copy.destroy();
    done(error);
  }
}
