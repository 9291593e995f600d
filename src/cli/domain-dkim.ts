import { DkimKeys, dnsRecordOf, zoneLineOf, type DkimKey } from '../auth/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Resolver } from '../dns/index.ts';
import type { Store } from '../store/index.ts';
import type { Vault } from '../vault/index.ts';
import { adminActor } from './admin-actor.ts';

/** How a key's DNS record stands: what `domain check` reports for each current key. */
export interface DkimRecordStatus {
  selector: string;
  algorithm: string;
  name: string;
  status: 'published' | 'missing' | 'different' | 'lookup-failed';
  detail?: string;
}

/** The `p=` of a DKIM key record (RFC 6376 §3.6.1 tag-list), whitespace removed; undefined without one. */
export function publicKeyOfRecord(txt: string): string | undefined {
  for (const tag of txt.split(';')) {
    const eq = tag.indexOf('=');
    if (eq > 0 && tag.slice(0, eq).trim() === 'p') return tag.slice(eq + 1).replace(/\s+/g, '');
  }
  return undefined;
}

/** Looks up each key's record and compares its `p=` with the key in use. */
export async function dkimRecordStatus(keys: DkimKey[], resolver: Resolver): Promise<DkimRecordStatus[]> {
  return Promise.all(
    keys.map(async (key): Promise<DkimRecordStatus> => {
      const name = `${key.selector}._domainkey.${key.domain}`;
      const base = { selector: key.selector, algorithm: key.algorithm, name };
      let records: string[][];
      try {
        records = await resolver.resolveTxt(name);
      } catch (error) {
        const kind = (error as { kind?: string }).kind;
        if (kind === 'nxdomain' || kind === 'nodata') return { ...base, status: 'missing', detail: `publish: ${dnsRecordOf(key)}` };
        return { ...base, status: 'lookup-failed', detail: (error as Error).message };
      }
      const published = records.map((parts) => publicKeyOfRecord(parts.join(''))).filter((p) => p !== undefined);
      if (published.includes(key.publicKey)) return { ...base, status: 'published' };
      if (published.length === 0) return { ...base, status: 'missing', detail: `publish: ${dnsRecordOf(key)}` };
      return { ...base, status: 'different', detail: `the record holds another key; publish: ${dnsRecordOf(key)}` };
    }),
  );
}

export function formatDkimStatus(statuses: DkimRecordStatus[]): string[] {
  if (statuses.length === 0) return ['  DKIM: no signing keys (sealgate domain dkim DOMAIN makes them)'];
  return statuses.map((s) => `  DKIM ${s.algorithm} ${s.name}: ${s.status === 'published' ? 'published, matches the key in use' : s.status === 'missing' ? 'NOT published' : s.status === 'different' ? 'MISMATCH' : 'lookup failed'}${s.detail ? ` (${s.detail})` : ''}`);
}

/** `sealgate domain dkim DOMAIN [--rotate]`: makes (or shows) the keys and prints the records to publish. */
export async function dkimCommand(deps: { store: Store; vault: Vault; audit: Pick<AuditLog, 'record'> }, domain: string, rotate: boolean, json: boolean, out: (text: string) => void): Promise<number> {
  const keys = new DkimKeys(deps.store, deps.vault);
  const before = await keys.current(domain);
  const { keys: current, created } = await keys.ensure(domain, Date.now(), rotate);
  if (created) {
    await deps.audit.record({ actor: adminActor(), action: rotate ? 'domain.dkim.rotate' : 'domain.dkim.create', target: domain.toLowerCase(), protocol: 'cli', detail: { before: before.map((k) => k.selector), after: current.map((k) => k.selector) } });
  }
  const retired = rotate ? before : [];
  if (json) {
    const view = (k: DkimKey) => ({ selector: k.selector, algorithm: k.algorithm, name: `${k.selector}._domainkey.${k.domain}`, record: dnsRecordOf(k) });
    out(JSON.stringify({ domain: domain.toLowerCase(), created, keys: current.map(view), retired: retired.map(view) }, null, 2));
    return 0;
  }
  out(
    [
      `${domain.toLowerCase()}: ${created ? (rotate ? 'new DKIM keys made; mail is signed with them from now on' : 'DKIM keys made') : 'DKIM keys in use (--rotate makes new ones)'}; publish these TXT records:`,
      ...current.map(zoneLineOf),
      ...(retired.length ? ['Keep the retired keys\' records published for a few days (mail signed with them may still be in transit):', ...retired.map(zoneLineOf)] : []),
    ].join('\n'),
  );
  return 0;
}
