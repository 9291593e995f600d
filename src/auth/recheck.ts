/**
 * `sealgate analyze`: DKIM and ARC checked again now, against the keys published today (RFC 6376
 * §6, RFC 8617 §5.2), with our injected Resolver. SPF and DMARC cannot be re-run after the fact
 * (they need the connecting IP and envelope): the analysis reports what receivers recorded.
 */
import type { Resolver } from '../dns/index.ts';
import { analyzeTrace, parseHeaders, recordedAuthResults, splitHeaderBlock, TraceLimitError, type RecordedAuthResults, type TraceAnalysis } from '../mail/index.ts';
import { loadMailauth } from './mailauth-loader.ts';
import { authResolver } from './resolver.ts';

export interface DkimRecheck {
  domain: string | null;
  selector: string | null;
  result: string;
  /** mailauth's reason when not a pass: "bad signature", "no key"… */
  comment: string | null;
}

export interface SignatureRecheck {
  dkim: DkimRecheck[];
  /** The ARC chain's validation (`none` when the message has no ARC set). */
  arc: { result: string; instance: number | null; comment: string | null };
}

export async function recheckSignatures(message: Buffer, resolver: Resolver): Promise<SignatureRecheck> {
  const adapted = authResolver(resolver) as never;
  // Loaded when an analysis runs (the console's page, `sealgate analyze`), not with the portal.
  const { arc, dkimVerify } = await loadMailauth();
  const verified = await dkimVerify(message, { resolver: adapted });
  const dkim = verified.results
    .filter((r) => r.signingDomain || r.status.result !== 'none')
    .map((r) => ({ domain: r.signingDomain ?? null, selector: r.selector ?? null, result: r.status.result, comment: r.status.comment ?? null }));
  const chain = verified.arc ? await arc(verified.arc as never, { resolver: adapted }) : undefined;
  return {
    dkim,
    arc: { result: chain?.status.result ?? 'none', instance: typeof chain?.i === 'number' ? chain.i : null, comment: chain?.status.comment ?? null },
  };
}

/** More DKIM-Signature and ARC fields than this: not re-checked (real mail carries a handful). */
export const MAX_SIGNATURES = 16;

export interface MessageAnalysis {
  trace: TraceAnalysis;
  recorded: RecordedAuthResults[];
  /** Null when not asked for (offline), or when the check itself failed (`recheckError` says why). */
  signatures: SignatureRecheck | null;
  recheckError: string | null;
  /** Set when the message carried more than MAX_SIGNATURES signatures, so none was checked again. */
  tooManySignatures: number | null;
}

/** A header block past this never came through a mail server (ours refuses it: limits.maxHeaderBytes). */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * The whole analysis of one message: the trace (pure), the recorded results, and DKIM/ARC again
 * when a resolver is given. Throws TraceLimitError, before any DNS lookup, for a header block
 * past MAX_HEADER_BYTES or more than MAX_TRACE_HOPS Received fields.
 */
export async function analyzeMessage(message: Buffer, resolver?: Resolver): Promise<MessageAnalysis> {
  const split = splitHeaderBlock(message);
  const headerBytes = split?.headerEnd ?? message.length;
  if (headerBytes > MAX_HEADER_BYTES) throw new TraceLimitError(`the message's header block is ${Math.ceil(headerBytes / 1024)} KB; at most ${MAX_HEADER_BYTES / 1024} KB is analysed (no mail server passes on more)`, { what: 'header-kb', count: Math.ceil(headerBytes / 1024), max: MAX_HEADER_BYTES / 1024 });
  const head = displayableHead(message.subarray(0, headerBytes));
  const trace = analyzeTrace(head);
  let signatures: SignatureRecheck | null = null;
  let recheckError: string | null = null;
  // Each signature is a DNS lookup the gateway makes for whoever pasted the message: a few, not thousands.
  const signed = parseHeaders(head).filter((f) => /^(dkim-signature|arc-seal|arc-message-signature)$/i.test(f.name)).length;
  if (resolver && signed > MAX_SIGNATURES) recheckError = `the message carries ${signed} DKIM/ARC signatures; at most ${MAX_SIGNATURES} are checked again`;
  else if (resolver) {
    try {
      signatures = await recheckSignatures(message, resolver);
    } catch (error) {
      recheckError = (error as Error).message;
    }
  }
  return { trace, recorded: recordedAuthResults(head), signatures, recheckError, tooManySignatures: resolver && signed > MAX_SIGNATURES ? signed : null };
}

/**
 * The header block as text to read hops and results from (never to check a signature: that
 * reads the bytes). UTF-8 when it is (RFC 6532 lets a server name or address be UTF-8: read as
 * latin1 it showed as `bÃ¼cher.example`), latin1 otherwise. Controls stay in the data; what
 * prints it escapes them (cli/output.ts terminalSafe, the portal's HTML escaping).
 */
function displayableHead(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** The `--json` document (and the portal's data): hops oldest first, snake_case as documented. */
export function analysisJson(analysis: MessageAnalysis): object {
  const { trace } = analysis;
  return {
    hops: trace.hops.map((h) => ({ from: h.from, from_ip: h.fromIp, by: h.by, with: h.with, tls: h.tls, transport: h.transport, reason: h.reason, time: h.time, delay_s: h.delaySeconds })),
    verdict: trace.verdict,
    summary: trace.summary,
    network_hops: trace.networkHops,
    unknown_hops: trace.unknownHops,
    tls_hops: trace.tlsHops,
    recorded: analysis.recorded.map((r) => ({ authserv_id: r.authservId, results: r.results })),
    dkim: analysis.signatures?.dkim ?? null,
    arc: analysis.signatures?.arc ?? null,
    recheck_error: analysis.recheckError,
  };
}
