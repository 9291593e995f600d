import type { Protector } from '../types.ts';
import type { SmimeProtectorOptions } from './options.ts';
import { protectSmime } from './protect.ts';
import { unprotectSmime } from './unprotect.ts';

export function createSmimeProtector(settings: SmimeProtectorOptions = {}): Protector {
  return {
    kind: 'smime',
    protect: (message, options) => protectSmime(message, options, settings),
    unprotect: (message, options) => unprotectSmime(message, options, settings),
  };
}

export { checkCertificate, certificateAddresses, certificateSubject } from './certificates.ts';
export type { CertificateCheck, CertificateCheckInput, CertificateProblem, CertificateUse } from './certificates.ts';
export { fingerprint as certificateFingerprint, parseCertificates } from './der.ts';
export type { SmimeProtectorOptions } from './options.ts';
export type { ContentEncryption, RsaKeyTransport } from './enveloped.ts';
