import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CertificatePair {
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
  created: boolean;
}

/**
 * First start without a configured certificate: make a self-signed P-256 one for the
 * hostname, valid one year, kept in the data dir (key 0600) so it survives restarts.
 */
export async function ensureSelfSignedCertificate(dir: string, hostname: string): Promise<CertificatePair> {
  const certFile = path.join(dir, 'tls', 'self-signed.crt');
  const keyFile = path.join(dir, 'tls', 'self-signed.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), certFile, keyFile, created: false };
  }
  // The X.509 library costs ~20 MB of memory; load it only on the run that needs it.
  const { generateSelfSigned } = await import('./x509-generate.ts');
  const { certPem, keyPem } = await generateSelfSigned(hostname);
  mkdirSync(path.dirname(certFile), { recursive: true, mode: 0o700 });
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, certPem, { mode: 0o644 });
  return { certPem, keyPem, certFile, keyFile, created: true };
}
