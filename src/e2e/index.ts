export type { E2eKind, PrivateKeyMaterial, ProtectOptions, Protector, PublicKeyMaterial, SignatureVerdict, UnprotectOptions, UnprotectResult } from './types.ts';
export { createSmimeProtector, checkCertificate as checkSmimeCertificate } from './smime/index.ts';
export type { SmimeProtectorOptions, CertificateCheck as SmimeCertificateCheck } from './smime/index.ts';
export { E2eKeyStore, KeyParseError, SOURCE_PRECEDENCE, detectKind, parseKeys, recommendation, updatePeerState } from './keystore/index.ts';
export type { AutocryptObservation, AutocryptPeerState, AutocryptRecommendation, BestKey, KeySource, ParsedKey, PeerKeyInfo, UserKeyInfo } from './keystore/index.ts';
export { KeyDiscovery, autocryptHeaderValues, autocryptObservation, createHttpsFetcher, parseAutocrypt, wkdLocation } from './discovery/index.ts';
export type { AutocryptHeader, DiscoveryOptions, DiscoveryReport, HttpsFetcher } from './discovery/index.ts';
export { openpgpProtector, generateKey as generateOpenpgpKey, inspectCertificate as inspectOpenpgpCertificate } from './openpgp/index.ts';
export type { CertificateFacts as OpenpgpCertificateFacts, KeyProfile as OpenpgpKeyProfile } from './openpgp/index.ts';
