/**
 * Inbound S/MIME (issue 11, the MX role) with real peers: `openssl cms` (enveloped CBC,
 * auth-enveloped GCM, signed, signed then enveloped) and `gpgsm` (enveloped; signed then
 * enveloped) to bob@corp.test, whose certificate and key Sealgate holds; the Postfix mailbox
 * behind the gateway receives each decrypted with a `Sealgate-E2E-Result` field. Signers chain to the configured trust
 * anchor (e2e.smime.trustAnchorFiles); a validly signed sender's certificate is harvested.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../../helpers/peers.ts';
import { createTestPki, gpgsmImportPkcs12, type TestPki } from '../18-smime/pki.ts';
import { resultHeader, startInboundRig, type InboundRig } from './rig.ts';

let rig: InboundRig;
let pki: TestPki;
let gpgHome: string;
let counter = 0;

function cms(args: string[], input: string | Buffer = ''): Buffer {
  return execFileSync('openssl', ['cms', ...args], { input, cwd: pki.dir, stdio: ['pipe', 'pipe', 'pipe'] });
}
function gpgsm(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('gpgsm', ['--batch', '--pinentry-mode', 'loopback', ...args], { input, cwd: pki.dir, env: { ...process.env, GNUPGHOME: gpgHome }, stdio: ['pipe', 'pipe', 'pipe'] });
}
/** Message-ID and Date for a message openssl wrote (it writes From, To and Subject itself). */
function traceFields(): { id: string; lines: string } {
  const id = `<smime-in-${++counter}-${Date.now()}@example.test>`;
  return { id, lines: `Message-ID: ${id}\r\nDate: ${new Date().toUTCString().replace('GMT', '+0000')}\r\n` };
}
const body = (marker: string) => `Content-Type: text/plain; charset=utf-8\r\n\r\nThe numbers are in. ${marker}\r\n`;
const sealedTo = ['-from', 'alice@example.test', '-to', 'bob@corp.test', '-subject', 'Quarterly numbers'];

describeWithPeers(['root', 'postfix', 'openssl', 'gpgsm', 'gpg-agent'], 'inbound S/MIME: decrypt, verify, mark, harvest', () => {
  beforeAll(async () => {
    pki = createTestPki([
      { name: 'alice', address: 'alice@example.test', key: 'rsa' },
      { name: 'bob', address: 'bob@corp.test', key: 'rsa' },
    ]);
    rig = await startInboundRig('e2e-in-smime', '127.0.0.62', { e2e: { smime: { trustAnchorFiles: [pki.caPath] } } });
    const imported = await rig.gateway.cli('keys', 'import', pki.user('bob').certPath, '--key', pki.user('bob').keyPath);
    expect(imported.code, imported.stderr).toBe(0);
    gpgHome = join(pki.dir, 'gnupg');
    mkdirSync(gpgHome, { recursive: true, mode: 0o700 });
    writeFileSync(join(gpgHome, 'gpgsm.conf'), 'disable-crl-checks\ndisable-dirmngr\ndisable-policy-checks\n');
    gpgsm(['--import', pki.caPath]);
    gpgsm(['--import', pki.user('bob').certPath]);
    // alice signs with gpgsm too: her PKCS#12 through the agent's loopback pinentry.
    writeFileSync(join(gpgHome, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
    gpgsmImportPkcs12(pki, gpgHome, 'alice', 'p12-pass', gpgsm);
  }, 120_000);

  afterAll(async () => {
    await rig?.stop([gpgHome]);
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  for (const [cipher, malleable] of [['-aes-256-cbc', 'yes'], ['-aes-256-gcm', 'no']] as const) {
    it(`openssl cms -encrypt ${cipher}: decrypted, unsigned, malleable=${malleable}`, async () => {
      const marker = `enveloped${cipher}`;
      writeFileSync(join(pki.dir, 'body.eml'), body(marker));
      const sealed = cms(['-encrypt', cipher, '-in', 'body.eml', ...sealedTo, pki.user('bob').certPath]);
      const { lines } = traceFields();
      expect(await rig.send('alice@example.test', ['bob@corp.test'], Buffer.concat([Buffer.from(lines), sealed]))).toMatch(/^250 /);
      const copy = await rig.delivered(marker);
      expect(copy).not.toMatch(/pkcs7-mime/i);
      expect(resultHeader(copy)).toBe(`gateway.sealgate.test; kind=smime; decrypted=yes; signature=none; malleable=${malleable}; replay=not-checked`);
    });
  }

  it('openssl cms -sign: stays as it came, valid signature, and the certificate is harvested', async () => {
    const marker = 'signed-detached-smime';
    writeFileSync(join(pki.dir, 'body.eml'), body(marker));
    const signed = cms(['-sign', '-in', 'body.eml', '-signer', pki.user('alice').certPath, '-inkey', pki.user('alice').keyPath, '-md', 'sha256']);
    const { lines } = traceFields();
    const message = Buffer.concat([Buffer.from(`From: Alice <alice@example.test>\r\nTo: bob@corp.test\r\nSubject: signed\r\n${lines}`), signed]);
    expect(await rig.send('alice@example.test', ['bob@corp.test'], message)).toMatch(/^250 /);
    const copy = await rig.delivered(marker);
    expect(copy).toMatch(/application\/(x-)?pkcs7-signature/);
    expect(resultHeader(copy)).toMatch(/kind=smime; decrypted=no; signature=valid; signer="alice@example\.test"; key="[0-9a-f]{64}"; key-source=certificate-chain; signed-at=\S+; malleable=no; replay=no$/);
    const keys = await rig.keysUntil((k) => k.address === 'alice@example.test');
    expect(keys).toContainEqual(expect.objectContaining({ address: 'alice@example.test', kind: 'smime', source: 'harvested' }));

    const tampered = Buffer.from(message.toString('latin1').replace('The numbers are in.', 'The numbers are out.'), 'latin1');
    expect(await rig.send('alice@example.test', ['bob@corp.test'], tampered)).toMatch(/^250 /);
    expect(resultHeader(await rig.delivered('The numbers are out.'))).toMatch(/signature=invalid; signer="alice@example\.test".*reason=/);
  });

  it('openssl sign then encrypt (CBC): decrypted, valid, not malleable', async () => {
    const marker = 'signed-then-enveloped';
    writeFileSync(join(pki.dir, 'body.eml'), body(marker));
    const signed = cms(['-sign', '-in', 'body.eml', '-signer', pki.user('alice').certPath, '-inkey', pki.user('alice').keyPath, '-md', 'sha256']);
    const sealed = cms(['-encrypt', '-aes-256-cbc', ...sealedTo, pki.user('bob').certPath], signed);
    const { lines } = traceFields();
    expect(await rig.send('alice@example.test', ['bob@corp.test'], Buffer.concat([Buffer.from(lines), sealed]))).toMatch(/^250 /);
    const copy = await rig.delivered(marker);
    expect(resultHeader(copy)).toMatch(/kind=smime; decrypted=yes; signature=valid; signer="alice@example\.test".*malleable=no; replay=no$/);
  });

  it('gpgsm --sign then --encrypt: decrypted, valid', async () => {
    const marker = 'gpgsm-signed-then-enveloped';
    writeFileSync(join(pki.dir, 'body.eml'), body(marker));
    // Opaque signed-data (gpgsm's default), then enveloped to bob.
    writeFileSync(join(pki.dir, 'signed.eml'), ['MIME-Version: 1.0', 'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"', 'Content-Transfer-Encoding: base64', '',
      gpgsm(['--passphrase-fd', '0', '-u', 'alice@example.test', '--sign', 'body.eml'], 'p12-pass').toString('base64').replace(/(.{76})/g, '$1\r\n'), ''].join('\r\n'));
    const der = gpgsm(['-r', 'bob@corp.test', '--encrypt', 'signed.eml']);
    const { lines } = traceFields();
    const message = [`From: alice@example.test\r\nTo: bob@corp.test\r\nSubject: gpgsm signed\r\n${lines}MIME-Version: 1.0`,
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"', 'Content-Transfer-Encoding: base64', '',
      der.toString('base64').replace(/(.{76})/g, '$1\r\n'), ''].join('\r\n');
    expect(await rig.send('alice@example.test', ['bob@corp.test'], message)).toMatch(/^250 /);
    expect(resultHeader(await rig.delivered(marker))).toMatch(/kind=smime; decrypted=yes; signature=valid; signer="alice@example\.test".*malleable=no; replay=no$/);
  });

  it('gpgsm --encrypt: decrypted', async () => {
    const marker = 'from-gpgsm';
    writeFileSync(join(pki.dir, 'body.eml'), body(marker));
    const der = gpgsm(['-r', 'bob@corp.test', '--encrypt', 'body.eml']);
    const { lines } = traceFields();
    const message = [`From: alice@example.test\r\nTo: bob@corp.test\r\nSubject: gpgsm\r\n${lines}MIME-Version: 1.0`,
      'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"', 'Content-Transfer-Encoding: base64', '',
      der.toString('base64').replace(/(.{76})/g, '$1\r\n'), ''].join('\r\n');
    expect(await rig.send('alice@example.test', ['bob@corp.test'], message)).toMatch(/^250 /);
    expect(resultHeader(await rig.delivered(marker))).toMatch(/kind=smime; decrypted=yes; signature=none; malleable=yes/);
  });
});
