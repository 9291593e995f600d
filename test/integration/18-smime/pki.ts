/**
 * A throwaway S/MIME PKI made with `openssl` at test time: a test CA and users with an
 * emailAddress SAN, key usage and the emailProtection extended key usage (RSA and EC P-256).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestUser {
  address: string;
  certPath: string;
  keyPath: string;
  /** PEM bytes. */
  cert: Uint8Array;
  /** PKCS#8 PEM bytes. */
  key: Uint8Array;
}

export interface TestPki {
  dir: string;
  caPath: string;
  ca: Uint8Array;
  user(name: string): TestUser;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface UserSpec {
  name: string;
  address: string;
  key: 'rsa' | 'ec';
  /** keyUsage extension value; defaults to what S/MIME needs for the key type. */
  keyUsage?: string;
  /** Address in the SAN, when it should differ from `address`. */
  sanAddress?: string;
}

export function createTestPki(users: UserSpec[]): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'sealgate-smime-'));
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Sealgate SMIME Test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  const made = new Map<string, TestUser>();
  for (const spec of users) {
    const newkey = spec.key === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    openssl(['req', '-new', ...newkey, '-nodes', '-keyout', `${spec.name}.key`, '-out', `${spec.name}.csr`, '-subj', `/CN=${spec.name}/emailAddress=${spec.address}`], dir);
    const usage = spec.keyUsage ?? (spec.key === 'rsa' ? 'critical,digitalSignature,keyEncipherment' : 'critical,digitalSignature,keyAgreement');
    writeFileSync(
      join(dir, `${spec.name}.ext`),
      `basicConstraints=CA:FALSE\nkeyUsage=${usage}\nextendedKeyUsage=emailProtection\nsubjectAltName=email:${spec.sanAddress ?? spec.address}\n`,
    );
    openssl(['x509', '-req', '-in', `${spec.name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', `${spec.name}.pem`, '-extfile', `${spec.name}.ext`], dir);
    made.set(spec.name, {
      address: spec.address,
      certPath: join(dir, `${spec.name}.pem`),
      keyPath: join(dir, `${spec.name}.key`),
      cert: readFileSync(join(dir, `${spec.name}.pem`)),
      key: readFileSync(join(dir, `${spec.name}.key`)),
    });
  }
  return {
    dir,
    caPath: join(dir, 'ca.pem'),
    ca: readFileSync(join(dir, 'ca.pem')),
    user(name) {
      const user = made.get(name);
      if (!user) throw new Error(`no test user ${name}`);
      return user;
    },
  };
}

export const SAMPLE_MESSAGE = [
  'From: Alice <alice@example.test>',
  'To: Bob <bob@example.test>',
  'Subject: Quarterly numbers',
  'Date: Wed, 02 Dec 2026 10:00:00 +0000',
  'Message-ID: <smime-1@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 7bit',
  '',
  'The numbers are in.',
  'Revenue is up.',
  '',
].join('\r\n');

/**
 * Gives gpgsm (GNUPGHOME `home`) a user's key and certificate as PKCS#12 protected by
 * `passphrase`, and trusts the test CA (trustlist.txt). gpgsm 2.2.40 fails to decrypt about
 * 2% of the PKCS#12 files OpenSSL writes ("decryption failed" for the right passphrase,
 * every time for that file, while `openssl pkcs12` reads it): it depends on the random salt,
 * so a failed import is retried with a fresh export.
 */
export function gpgsmImportPkcs12(pki: TestPki, home: string, name: string, passphrase: string, gpgsm: (args: string[], input?: string) => Buffer): void {
  const user = pki.user(name);
  for (let attempt = 1; ; attempt++) {
    execFileSync('openssl', ['pkcs12', '-export', '-inkey', user.keyPath, '-in', user.certPath, '-out', `${name}.p12`, '-passout', `pass:${passphrase}`,
      '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'], { cwd: pki.dir, stdio: 'ignore' });
    try {
      gpgsm(['--passphrase-fd', '0', '--import', `${name}.p12`], passphrase);
      break;
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
  const caFingerprint = execFileSync('openssl', ['x509', '-in', pki.caPath, '-noout', '-fingerprint', '-sha1']).toString().trim().split('=')[1];
  writeFileSync(join(home, 'trustlist.txt'), `${caFingerprint} S\n`);
}
