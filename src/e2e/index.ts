export type { E2eKind, PrivateKeyMaterial, ProtectOptions, Protector, PublicKeyMaterial, SignatureVerdict, UnprotectOptions, UnprotectResult } from './types.ts';
