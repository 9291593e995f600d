export { E2eKeyStore } from './repository.ts';
export type { BestKey, KeyStoreOptions, PeerKeyInfo, UserKeyInfo } from './repository.ts';
export { KeyParseError, detectKind, parseKeys, type ParsedKey } from './parse.ts';
export { SOURCE_PRECEDENCE, chooseBest, supersedes, unusableReason, type KeySource, type CandidateKey } from './precedence.ts';
export { recommendation, updatePeerState, type AutocryptObservation, type AutocryptPeerState, type AutocryptRecommendation, type PreferEncrypt } from './autocrypt-state.ts';
