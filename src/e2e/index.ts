export type { E2eKind, PrivateKeyMaterial, ProtectOptions, Protector, PublicKeyMaterial, SignatureVerdict, UnprotectOptions, UnprotectResult } from './types.ts';
export { createSmimeProtector, checkCertificate as checkSmimeCertificate } from './smime/index.ts';
export type { SmimeProtectorOptions, CertificateCheck as SmimeCertificateCheck } from './smime/index.ts';
