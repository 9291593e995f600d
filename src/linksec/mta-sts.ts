import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls, { type PeerCertificate } from 'node:tls';
import { createRequire } from 'node:module';
import { domainToASCII } from 'node:url';
import type * as MailauthMtaSts from 'mailauth/lib/mta-sts.js';
import { lookupVia } from '../dns/index.ts';
import type { Store } from '../store/index.ts';

const require = createRequire(import.meta.url);
let mtaStsModule: typeof MailauthMtaSts | undefined;
/**
 * mailauth's MTA-STS parser, loaded at the first policy looked at (it brings joi, ~25 MB
 * resident): a node that relays only to smarthosts, or a listener process, never holds it.
 * Sync, because matching an MX is; it is CommonJS, so `require` is the same module `import` gets.
 */
function mtaSts(): typeof MailauthMtaSts {
  return (mtaStsModule ??= require('mailauth/lib/mta-sts.js') as typeof MailauthMtaSts);
}

/** RFC 8461 §3.2: the largest max_age a policy may give (one year). */
export const MAX_AGE_LIMIT = 31_557_600;
const POLICY_PATH = '/.well-known/mta-sts.txt';

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  /** The `id=` of the TXT record this policy was fetched for. */
  id: string;
  mode: MtaStsMode;
  /** MX patterns, lower case: exact names or `*.` plus a domain. */
  mx: string[];
  /** Seconds. */
  maxAge: number;
  fetchedAt: number;
  expiresAt: number;
}

export interface MtaStsFetchOptions {
  /** TXT lookup; NXDOMAIN/NODATA as `[]` or an error with code ENOTFOUND/ENODATA (src/dns does that). */
  resolveTxt: (name: string) => Promise<string[][]>;
  /** Trusted CAs for the policy host; default Node's root store. */
  ca?: string | Buffer[];
  /** Default 443; tests use another. */
  port?: number;
  /** Policy host for a domain; default `mta-sts.<domain>`. */
  host?: (domain: string) => string;
  /** Address to connect to for the policy host; default the system resolver. */
  connectAddress?: (host: string) => Promise<string>;
  /** Whole request, connect to last byte; default 10 s. */
  timeoutMs?: number;
  /** Largest policy body accepted; default 64 KiB (RFC 8461 §3.3). */
  maxBytes?: number;
  /** After a failed fetch, the same policy id is not fetched again for this long; default 5 min. */
  retryAfterFailureMs?: number;
  now?: () => number;
}

/**
 * `error` without `cached` means: deliver as though the domain had no MTA-STS policy (RFC 8461
 * §5.1); with `cached`, keep applying that unexpired policy. Either way the reason is reportable.
 */
export type MtaStsLookup =
  | { kind: 'none' }
  | { kind: 'policy'; policy: MtaStsPolicy; source: 'cache' | 'fetched' }
  | { kind: 'error'; reason: string; cached?: MtaStsPolicy };

/** The policy a sender must apply after a lookup, if any. */
export function policyToApply(lookup: MtaStsLookup): MtaStsPolicy | undefined {
  if (lookup.kind === 'policy') return lookup.policy;
  if (lookup.kind === 'error') return lookup.cached;
  return undefined;
}

/**
 * Whether an MX host name matches one of the policy's `mx` patterns (RFC 8461 §4.1): exact, or
 * `*.` standing for exactly one left-most label; case and a trailing dot do not matter. Pure
 * pattern matching: what a mismatch means (`enforce`, `testing`, `none`) is the caller's call.
 */
export function mxMatchesPolicy(mxHost: string, policy: Pick<MtaStsPolicy, 'mx'>): boolean {
  return mtaSts().validateMx(mxHost, { mode: 'enforce', mx: policy.mx }).valid;
}

function normalizeDomain(domain: string): string {
  const lower = domain.trim().toLowerCase().replace(/\.$/, '');
  return domainToASCII(lower) || lower;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The policy id from `_mta-sts.<domain>`; undefined when no usable record is published. */
export async function discoverPolicyId(domain: string, resolveTxt: MtaStsFetchOptions['resolveTxt']): Promise<string | undefined> {
  const txtName = `_mta-sts.${normalizeDomain(domain)}`;
  try {
    // mailauth applies RFC 8461 §3.1: records not starting `v=STSv1;` are dropped, more than one is an error.
    const id = await mtaSts().resolvePolicy(domain, { resolver: async (name: string) => resolveTxt(name) } as never);
    return id || undefined;
  } catch (error) {
    if ((error as { code?: string }).code === 'multi_sts_records') {
      throw new Error(`${txtName} has more than one TXT record starting "v=STSv1;"; RFC 8461 §3.1 allows exactly one, so no policy applies until the extra record is removed.`);
    }
    throw new Error(`looking up TXT ${txtName} failed (${messageOf(error)}); MTA-STS is checked again on the next attempt.`);
  }
}

/** mailauth rejects a max_age over the limit; RFC 8461 §3.2 only bounds it, so cap it instead. */
function capMaxAge(body: string): string {
  return body.replace(/^([ \t]*max_age[ \t]*:[ \t]*)([0-9]+)/im, (_all, prefix: string, value: string) =>
    `${prefix}${Math.min(Number(value), MAX_AGE_LIMIT)}`,
  );
}

/** RFC 8461 §3.3 wants a DNS-ID match: no fallback to the subject CN, wildcards only as a whole left-most label. */
function checkPolicyHostIdentity(hostname: string, cert: PeerCertificate): Error | undefined {
  const error = tls.checkServerIdentity(hostname, cert);
  if (error) return error;
  const match = new X509Certificate(cert.raw).checkHost(hostname, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false });
  if (!match) return new Error(`the certificate names no subjectAltName DNS entry matching ${hostname}`);
  return undefined;
}

const CERT_ERROR = /CERT|SIGNATURE|SELF_SIGNED|ISSUER|ALTNAME/;

/**
 * One GET of the policy file. Written here rather than taken from mailauth's fetchPolicy because
 * that one always connects to port 443, trusts only the system CAs and resolves the host itself,
 * so it cannot be pointed at a test CA, a test port or our own DNS.
 */
function getPolicyFile(host: string, options: MtaStsFetchOptions): Promise<Buffer> {
  const port = options.port ?? 443;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: string | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) {
        resolve(body as Buffer);
        return;
      }
      request.destroy();
      reject(new Error(error));
    };
    const request = https.request(
      {
        host,
        port,
        path: POLICY_PATH,
        method: 'GET',
        servername: host,
        ca: options.ca,
        rejectUnauthorized: true,
        checkServerIdentity: checkPolicyHostIdentity,
        // A fresh connection each time: never one verified under other options.
        agent: false,
        lookup: options.connectAddress ? lookupVia(options.connectAddress) : undefined,
        headers: { accept: 'text/plain' },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          finish(`the server redirects (HTTP ${status} to ${response.headers.location ?? 'nowhere'}); RFC 8461 §3.3 forbids following redirects, so the policy must be served at this address itself`);
          return;
        }
        if (status !== 200) {
          finish(`the server answered HTTP ${status}; only 200 carries a policy`);
          return;
        }
        const contentType = response.headers['content-type'] ?? '';
        if (contentType.split(';')[0].trim().toLowerCase() !== 'text/plain') {
          finish(`the policy is served as "${contentType}"; RFC 8461 §3.2 requires Content-Type text/plain`);
          return;
        }
        const tooLarge = `the policy is larger than ${maxBytes} bytes, the most RFC 8461 §3.3 asks a sender to read`;
        if (Number(response.headers['content-length']) > maxBytes) {
          finish(tooLarge);
          return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        response.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length > maxBytes) finish(tooLarge);
          else chunks.push(chunk);
        });
        response.on('end', () => finish(undefined, Buffer.concat(chunks, length)));
        response.on('error', (error) => finish(`the answer broke off (${error.message})`));
        response.on('close', () => {
          if (!response.complete) finish('the answer broke off before its end');
        });
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (CERT_ERROR.test(error.code ?? '') || error.message.includes('certificate')) {
        finish(`the certificate of ${host} did not verify (${error.message}); RFC 8461 §3.3 requires one valid for ${host} from a trusted CA`);
      } else {
        finish(`could not reach ${host}:${port} (${error.message})`);
      }
    });
    const timer = setTimeout(() => finish(`no complete answer within ${timeoutMs} ms`), timeoutMs);
    request.end();
  });
}

/** Fetches and parses `https://mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461 §3.3). */
export async function fetchMtaStsPolicy(domain: string, options: MtaStsFetchOptions): Promise<Pick<MtaStsPolicy, 'mode' | 'mx' | 'maxAge'>> {
  const name = normalizeDomain(domain);
  const host = options.host ? options.host(name) : `mta-sts.${name}`;
  const url = `https://${host}${options.port && options.port !== 443 ? `:${options.port}` : ''}${POLICY_PATH}`;
  let body: Buffer;
  try {
    body = await getPolicyFile(host, options);
  } catch (error) {
    throw new Error(`fetching ${url} failed: ${messageOf(error)}.`);
  }
  try {
    const parsed = mtaSts().parsePolicy(capMaxAge(body.toString('utf8')));
    return { mode: parsed.mode, mx: parsed.mx ?? [], maxAge: parsed.maxAge ?? 0 };
  } catch (error) {
    throw new Error(`${url} is not a valid MTA-STS policy (${messageOf(error)}); it needs "version: STSv1", a mode, max_age and, unless mode is none, mx lines.`);
  }
}

/**
 * MTA-STS policies per domain, cached in the store (RFC 8461 §5.1): a cached policy is used while
 * it is unexpired and the TXT id is unchanged; a new id is fetched; when fetching fails or the TXT
 * record disappears, the unexpired cached policy still applies.
 */
export class MtaStsCache {
  private readonly store: Store;
  private readonly options: MtaStsFetchOptions;
  private readonly now: () => number;
  /** Failed fetches by domain, so a down policy host is not asked on every delivery attempt. */
  private readonly failures = new Map<string, { policyId: string; retryAt: number; reason: string }>();
  /** Concurrent lookups of one domain share a single DNS query and fetch. */
  private readonly inflight = new Map<string, Promise<MtaStsLookup>>();

  constructor(store: Store, options: MtaStsFetchOptions) {
    this.store = store;
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  lookup(domain: string): Promise<MtaStsLookup> {
    const name = normalizeDomain(domain);
    let pending = this.inflight.get(name);
    if (!pending) {
      pending = this.lookupNow(name).finally(() => this.inflight.delete(name));
      this.inflight.set(name, pending);
    }
    return pending;
  }

  /** The stored policy, expired or not (for `domain check` and reports). */
  async cached(domain: string): Promise<MtaStsPolicy | undefined> {
    const row = await this.store.db.selectFrom('mta_sts_policies').selectAll().where('domain', '=', normalizeDomain(domain)).executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.policy_id,
      mode: row.mode as MtaStsMode,
      mx: JSON.parse(row.mx) as string[],
      maxAge: Number(row.max_age),
      fetchedAt: Number(row.fetched_at),
      expiresAt: Number(row.expires_at),
    };
  }

  private async lookupNow(domain: string): Promise<MtaStsLookup> {
    const stored = await this.cached(domain);
    const live = stored && stored.expiresAt > this.now() ? stored : undefined;
    const failed = (reason: string): MtaStsLookup => (live ? { kind: 'error', reason, cached: live } : { kind: 'error', reason });

    let policyId: string | undefined;
    try {
      policyId = await discoverPolicyId(domain, this.options.resolveTxt);
    } catch (error) {
      return failed(`MTA-STS for ${domain}: ${messageOf(error)}`);
    }
    // §3.2/§8.3: a vanished record does not cancel a cached policy before it expires.
    if (policyId === undefined) return live ? { kind: 'policy', policy: live, source: 'cache' } : { kind: 'none' };
    if (live && live.id === policyId) return { kind: 'policy', policy: live, source: 'cache' };

    const failure = this.failures.get(domain);
    if (failure && failure.policyId === policyId && failure.retryAt > this.now()) return failed(failure.reason);

    let fetched: Pick<MtaStsPolicy, 'mode' | 'mx' | 'maxAge'>;
    try {
      fetched = await fetchMtaStsPolicy(domain, this.options);
    } catch (error) {
      const reason = `MTA-STS policy ${policyId} of ${domain}: ${messageOf(error)}`;
      this.failures.set(domain, { policyId, retryAt: this.now() + (this.options.retryAfterFailureMs ?? 300_000), reason });
      return failed(reason);
    }
    this.failures.delete(domain);
    const fetchedAt = this.now();
    const policy: MtaStsPolicy = { id: policyId, ...fetched, fetchedAt, expiresAt: fetchedAt + fetched.maxAge * 1000 };
    await this.save(domain, policy);
    return { kind: 'policy', policy, source: 'fetched' };
  }

  private async save(domain: string, policy: MtaStsPolicy): Promise<void> {
    const row = {
      domain,
      policy_id: policy.id,
      mode: policy.mode,
      mx: JSON.stringify(policy.mx),
      max_age: policy.maxAge,
      fetched_at: policy.fetchedAt,
      expires_at: policy.expiresAt,
    };
    await this.store.db
      .insertInto('mta_sts_policies')
      .values(row)
      .onConflict((oc) => oc.column('domain').doUpdateSet(row))
      .execute();
  }
}
