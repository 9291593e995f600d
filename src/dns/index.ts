export { createSystemResolver, DnsError } from './resolver.ts';
export type { Resolver, MxRecord, DnsErrorKind, SystemResolverOptions } from './resolver.ts';
export { createSecureResolver } from './secure.ts';
export type { SecureResolver, SecureResolverOptions, SecureAnswer, SecureRecordType, SecureRecordOf, TlsaRecord } from './secure.ts';
export { lookupVia } from './lookup.ts';
