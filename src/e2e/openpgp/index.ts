export { openpgpProtector, verdictOf } from './protector.ts';
export { generateKey, inspectCertificate, inspectKey, readCertificates, readSecretKeys, addressOfUserId, isArmored, KEY_PROFILES } from './keys.ts';
export type { CertificateFacts, GenerateKeyInput, GeneratedKey, KeyProfile } from './keys.ts';
export { checkSignatures, decryptWith, encryptTo, signDetached, verifyDetached, readMessage, lacksIntegrity, integrityRefusal, signerAddress, SIGNING_CONFIG } from './crypto.ts';
export type { Decrypted, Verification } from './crypto.ts';
export { wrapForProtection, unwrapProtected } from './header-protection.ts';
