import { Resolver as NodeResolver } from 'node:dns/promises';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface Resolver {
  resolveMx(domain: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
  /** Reverse names (SPF `ptr`, `%{p}`); optional: a resolver without it answers as having none. */
  resolvePtr?(name: string): Promise<string[]>;
  resolveCname?(name: string): Promise<string[]>;
}

/** `nxdomain`: the name does not exist; `nodata`: it exists without that type; else transient. */
export type DnsErrorKind = 'nxdomain' | 'nodata' | 'transient';

export class DnsError extends Error {
  readonly kind: DnsErrorKind;
  readonly code: string;
  constructor(kind: DnsErrorKind, code: string, message: string) {
    super(message);
    this.name = 'DnsError';
    this.kind = kind;
    this.code = code;
  }
}

function classify(error: unknown, name: string, type: string): DnsError {
  const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  if (code === 'ENOTFOUND') return new DnsError('nxdomain', code, `${name} does not exist (NXDOMAIN)`);
  if (code === 'ENODATA') return new DnsError('nodata', code, `${name} has no ${type} record`);
  return new DnsError('transient', code, `DNS lookup of ${type} ${name} failed: ${code}`);
}

export interface SystemResolverOptions {
  /** `ip` or `ip:port`; default: the system's resolvers. */
  servers?: string[];
  timeoutMs?: number;
  tries?: number;
}

export function createSystemResolver(options: SystemResolverOptions = {}): Resolver {
  const resolver = new NodeResolver({ timeout: options.timeoutMs ?? 5000, tries: options.tries ?? 2 });
  if (options.servers?.length) resolver.setServers(options.servers);
  const wrap =
    <T>(type: string, call: (name: string) => Promise<T>) =>
    async (name: string): Promise<T> => {
      try {
        return await call(name);
      } catch (error) {
        throw classify(error, name, type);
      }
    };
  return {
    resolveMx: wrap('MX', (name) => resolver.resolveMx(name)),
    resolve4: wrap('A', (name) => resolver.resolve4(name)),
    resolve6: wrap('AAAA', (name) => resolver.resolve6(name)),
    resolveTxt: wrap('TXT', (name) => resolver.resolveTxt(name)),
    resolvePtr: wrap('PTR', (name) => resolver.resolvePtr(name)),
    resolveCname: wrap('CNAME', (name) => resolver.resolveCname(name)),
  };
}
