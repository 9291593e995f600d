/**
 * A temporary GNUPGHOME for `gpgsm` holding the test CA (trusted through trustlist.txt), the
 * certificates of `others` and the reader's PKCS#12; CRL and policy checks off (the test CA
 * publishes no CRL). Shared by 18-smime and 19-e2e-outbound.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gpgsmImportPkcs12, type TestPki } from './pki.ts';

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
  gpgsm(['--import', pki.caPath]);
  for (const other of others) gpgsm(['--import', pki.user(other).certPath]);
  gpgsmImportPkcs12(pki, home, reader, passphrase, gpgsm);
  return {
    home,
    gpgsm,
    cleanup() {
      spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
      rmSync(home, { recursive: true, force: true });
    },
  };
}
