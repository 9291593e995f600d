export { authResolver } from './resolver.ts';
export type { AuthResolver } from './resolver.ts';
export { InboundAuthTap, verifyInbound, verdictOf, QUARANTINE_HEADER } from './verify.ts';
export type { ArcSealKey, DmarcAction, InboundAuthOptions, InboundClient, InboundVerdict } from './verify.ts';
export { DkimKeys, dnsRecordOf, publicKeyValue, zoneLineOf } from './keys.ts';
export type { DkimAlgorithm, DkimKey } from './keys.ts';
export { authorDomainOf, dkimSignatures, signedBody } from './sign.ts';
export type { OutboundSigner } from './sign.ts';
