import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IssuedCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface TestCa {
  caCertPath: string;
  caKeyPath: string;
  caCertPem: string;
  issue(names: string[], options?: { selfSigned?: boolean }): Promise<IssuedCert>;
}

/** A throw-away CA made with the openssl CLI: the certificates real peers (Postfix) use. */
export async function createTestCa(dir: string): Promise<TestCa> {
  const caKeyPath = path.join(dir, 'ca.key');
  const caCertPath = path.join(dir, 'ca.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=Sealgate Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', caKeyPath, '-out', caCertPath]);
  let serial = 1;
  return {
    caCertPath,
    caKeyPath,
    caCertPem: readFileSync(caCertPath, 'utf8'),
    async issue(names, options = {}) {
      const base = path.join(dir, `${names[0].replace(/[^a-z0-9.-]/gi, '_')}-${serial++}`);
      const keyPath = `${base}.key`;
      const certPath = `${base}.crt`;
      const csrPath = `${base}.csr`;
      const extPath = `${base}.ext`;
      const san = names.map((n) => (net.isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(extPath, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
      await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${names[0]}`, '-keyout', keyPath, '-out', csrPath]);
      const signer = options.selfSigned ? ['-key', keyPath] : ['-CA', caCertPath, '-CAkey', caKeyPath];
      await run('openssl', ['x509', '-req', '-in', csrPath, ...signer, '-set_serial', String(Date.now() * 100 + serial), '-days', '30', '-extfile', extPath, '-out', certPath]);
      return { certPath, keyPath, certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
    },
  };
}
