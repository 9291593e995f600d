export { createSystemResolver, DnsError } from './resolver.ts';
export type { Resolver, MxRecord, DnsErrorKind, SystemResolverOptions } from './resolver.ts';
