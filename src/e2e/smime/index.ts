import type { Protector } from '../types.ts';
import type { CertificateCheck, CertificateCheckInput } from './certificates.ts';
import type { SmimeProtectorOptions } from './options.ts';

/*
 * PKI.js with its ASN.1 stack and the CMS code load at the first message protected or opened
 * (or certificate checked), not with this folder: every gateway process builds a protector at
 * start, few ever see S/MIME. Import './der.ts' and the others directly for their sync helpers.
 */

export function createSmimeProtector(settings: SmimeProtectorOptions = {}): Protector {
  return {
    kind: 'smime',
    protect: async (message, options) => (await import('./protect.ts')).protectSmime(message, options, settings),
    unprotect: async (message, options) => (await import('./unprotect.ts')).unprotectSmime(message, options, settings),
  };
}

/** The certificate check (chain, validity, usage, address, revocation) of certificates.ts. */
export async function checkCertificate(input: CertificateCheckInput): Promise<CertificateCheck> {
  return (await import('./certificates.ts')).checkCertificate(input);
}

export type { CertificateCheck, CertificateCheckInput, CertificateProblem, CertificateUse } from './certificates.ts';
export type { SmimeProtectorOptions } from './options.ts';
export type { ContentEncryption, RsaKeyTransport } from './enveloped.ts';
