/**
 * `npm run bench -- e2e [--seconds 3]`: messages per second of encrypt+sign and decrypt+verify,
 * Sealgate's e2e layer (the PGP/MIME and S/MIME protectors, in-process) against `gpg` and
 * `openssl cms`, one process per message as a gateway that shells out would. Same machine,
 * one run, one message at a time on every side. See bench/README.md (e2e).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSmimeProtector, openpgpProtector } from '../src/e2e/index.ts';
import type { PrivateKeyMaterial, PublicKeyMaterial } from '../src/e2e/index.ts';
import { testUser } from '../src/e2e/openpgp/test-keys.ts';
import { createTestPki } from '../test/integration/18-smime/pki.ts';
import { arg, figure } from './lib.ts';

const SECONDS = arg('seconds', 3);
const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-bench-e2e-'));
const home = path.join(dir, 'gnupg');

/** A text message of about `size` bytes: headers, then base64-looking lines as an attachment would be. */
function message(size: number): Buffer {
  const head = 'From: Alice <alice@sender.test>\r\nTo: Bob <bob@rcpt.test>\r\nSubject: Quarterly numbers\r\nDate: Wed, 2 Dec 2026 10:00:00 +0000\r\nMessage-ID: <bench@sender.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n';
  const body = randomBytes(Math.ceil(size * 0.75)).toString('base64').slice(0, size - head.length).replace(/(.{76})/g, '$1\r\n');
  return Buffer.from(head + body + '\r\n');
}

/**
 * Messages per second of each side, one message at a time. The two sides take turns in four
 * slices of SECONDS/2 each (ours, peer, ours, peer), so a load spike from another process on
 * this shared machine does not land on one side only.
 */
async function rates(ours: () => Promise<unknown>, peer: () => Promise<unknown>): Promise<[number, number]> {
  await ours(); // warm-up: JIT, the library's lazy loads, gpg-agent started
  await peer();
  const done = [0, 0];
  const spent = [0, 0];
  for (let slice = 0; slice < 4; slice++) {
    const side = slice % 2;
    const once = side === 0 ? ours : peer;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < SECONDS / 2 || done[side] < 2 * (slice >> 1) + 2) {
      await once();
      done[side]++;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    }
    spent[side] += elapsed;
  }
  return [done[0] / spent[0], done[1] / spent[1]];
}

function exec(file: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => (error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr.toString()}`)) : resolve(stdout)));
    child.stdin!.end(input ?? Buffer.alloc(0));
  });
}

const GPG = ['--homedir', home, '--batch', '--yes', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', '--trust-model', 'always'];

function report(name: string, [ours, peer]: [number, number], peerName: string): void {
  figure(`e2e.${name}.sealgate_per_s`, ours);
  figure(`e2e.${name}.${peerName}_per_s`, peer);
  figure(`e2e.${name}.ratio`, ours / peer);
}

async function main(): Promise<void> {
  const now = new Date(Date.now() - 60_000);
  const [alice, bob] = await Promise.all([testUser('alice@sender.test', now), testUser('bob@rcpt.test', now)]);
  execFileSync('mkdir', ['-m', '700', home]);
  execFileSync('gpg', [...GPG, '--import'], { input: Buffer.from(alice.secret.key), stdio: ['pipe', 'ignore', 'ignore'] });
  execFileSync('gpg', [...GPG, '--import'], { input: Buffer.from(bob.secret.key), stdio: ['pipe', 'ignore', 'ignore'] });

  const pki = createTestPki([
    { name: 'alice', address: 'alice@sender.test', key: 'rsa' },
    { name: 'bob', address: 'bob@rcpt.test', key: 'rsa' },
  ]);
  const smimeKey = (name: string): PrivateKeyMaterial => ({ kind: 'smime', address: pki.user(name).address, key: pki.user(name).key, certificates: [pki.user(name).cert] });
  const smimeCert = (name: string): PublicKeyMaterial => ({ kind: 'smime', address: pki.user(name).address, data: pki.user(name).cert });
  const smime = createSmimeProtector();
  // openssl dates the certificates to this second; sign a moment after it.
  const smimeNow = new Date(Date.now() + 2000);

  for (const [label, size] of [['10kb', 10 * 1024], ['1mb', 1024 * 1024]] as const) {
    const mail = message(size);
    writeFileSync(path.join(dir, 'mail'), mail);

    // OpenPGP: PGP/MIME signed then encrypted (armored) vs gpg -sea of the same bytes.
    const pgpProtect = () => openpgpProtector.protect(mail, { sign: true, encrypt: true, recipients: [bob.public, alice.public], signer: alice.secret, now });
    const gpgProtect = () => exec('gpg', [...GPG, '--armor', '--sign', '--local-user', alice.address, '--encrypt', '--recipient', bob.address, '--recipient', alice.address], mail);
    report(`pgp_encrypt_sign_${label}`, await rates(pgpProtect, gpgProtect), 'gpg');

    const sealed = await pgpProtect();
    const gpgSealed = await gpgProtect();
    const unprotect = { decryptionKeys: [bob.secret], verificationKeys: [alice.public], now: new Date() };
    const check = await openpgpProtector.unprotect(sealed, unprotect);
    if (check.signature?.state !== 'valid') throw new Error('bench: our own PGP/MIME did not verify');
    report(`pgp_decrypt_verify_${label}`, await rates(() => openpgpProtector.unprotect(sealed, unprotect), () => exec('gpg', [...GPG, '--decrypt'], gpgSealed)), 'gpg');

    // S/MIME: signed then enveloped (AES-256-CBC, what openssl cms -encrypt makes) vs openssl cms -sign | -encrypt:
    // openssl cms does one operation per invocation, so the peer's message costs two processes.
    const a = pki.user('alice');
    const b = pki.user('bob');
    const smimeProtect = () => smime.protect(mail, { sign: true, encrypt: true, recipients: [smimeCert('bob'), smimeCert('alice')], signer: smimeKey('alice'), now: smimeNow });
    const cmsProtect = async () => {
      const signed = await exec('openssl', ['cms', '-sign', '-md', 'sha256', '-signer', a.certPath, '-inkey', a.keyPath], mail);
      return exec('openssl', ['cms', '-encrypt', '-aes-256-cbc', b.certPath, a.certPath], signed);
    };
    report(`smime_encrypt_sign_${label}`, await rates(smimeProtect, cmsProtect), 'openssl');

    const smimeSealed = await smimeProtect();
    const cmsSealed = await cmsProtect();
    const smimeOpen = { decryptionKeys: [smimeKey('bob')], verificationKeys: [], trustAnchors: [pki.ca], now: new Date(smimeNow.getTime() + 1000) };
    const opened = await smime.unprotect(smimeSealed, smimeOpen);
    if (opened.signature?.state !== 'valid') throw new Error('bench: our own S/MIME did not verify');
    const cmsOpen = async () => {
      const signed = await exec('openssl', ['cms', '-decrypt', '-recip', b.certPath, '-inkey', b.keyPath], cmsSealed);
      return exec('openssl', ['cms', '-verify', '-CAfile', pki.caPath], signed);
    };
    report(`smime_decrypt_verify_${label}`, await rates(() => smime.unprotect(smimeSealed, smimeOpen), cmsOpen), 'openssl');
  }
  rmSync(pki.dir, { recursive: true, force: true });
}

console.log(`# load average at start ${os.loadavg()[0].toFixed(1)} (2 cores; above ~1 other processes share the CPU and the figures are noisy)`);
try {
  await main();
  console.log(`# load average at end ${os.loadavg()[0].toFixed(1)}`);
} finally {
  // No agent left behind: the GNUPGHOME's gpg-agent goes with the folder.
  spawnSync('gpgconf', ['--homedir', home, '--kill', 'all']);
  rmSync(dir, { recursive: true, force: true });
}
