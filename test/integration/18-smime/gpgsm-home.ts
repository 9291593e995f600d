/**
 * A temporary GNUPGHOME for `gpgsm` holding the test CA (trusted through trustlist.txt), the
 * certificates of `others` and the reader's PKCS#12; CRL and policy checks off (the test CA
 * publishes no CRL). Shared by 18-smime and 19-e2e-outbound.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestPki } from './pki.ts';

export interface GpgsmHome {
  home: string;
  /** Runs gpgsm in the PKI's folder with this home (batch, loopback pinentry). */
  gpgsm(args: string[], input?: string | Uint8Array): Buffer;
  /** Stops the agent and removes the home. */
  cleanup(): void;
}

export function createGpgsmHome(pki: TestPki, reader: string, passphrase: string, others: string[] = []): GpgsmHome {
  const home = mkdtempSync(join(tmpdir(), 'sealgate-gpgsm-'));
  const gpgsm = (args: string[], input?: string | Uint8Array): Buffer =>
    execFileSync('gpgsm', ['--batch', '--pinentry-mode', 'loopback', ...args], { input, cwd: pki.dir, env: { ...process.env, GNUPGHOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
  writeFileSync(join(home, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
  writeFileSync(join(home, 'gpgsm.conf'), 'disable-crl-checks\ndisable-dirmngr\ndisable-policy-checks\n');
  const user = pki.user(reader);
  execFileSync('openssl', ['pkcs12', '-export', '-inkey', user.keyPath, '-in', user.certPath, '-out', `${reader}.p12`, '-passout', `pass:${passphrase}`,
    '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'], { cwd: pki.dir, stdio: 'ignore' });
  gpgsm(['--import', pki.caPath]);
  for (const other of others) gpgsm(['--import', pki.user(other).certPath]);
  // The PKCS#12 import through the agent's loopback pinentry failed once in a full run
  // ("decryption failed" for a right passphrase) and never alone: it is tried again with a fresh agent.
  for (let attempt = 1; ; attempt++) {
    try {
      gpgsm(['--passphrase-fd', '0', '--import', `${reader}.p12`], passphrase);
      break;
    } catch (error) {
      if (attempt === 3) throw error;
      spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
    }
  }
  const caFingerprint = execFileSync('openssl', ['x509', '-in', pki.caPath, '-noout', '-fingerprint', '-sha1']).toString().trim().split('=')[1];
  writeFileSync(join(home, 'trustlist.txt'), `${caFingerprint} S\n`);
  return {
    home,
    gpgsm,
    cleanup() {
      spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
      rmSync(home, { recursive: true, force: true });
    },
  };
}
