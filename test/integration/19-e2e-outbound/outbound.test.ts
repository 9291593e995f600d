/**
 * Outbound end to end (issue 11), OpenPGP and S/MIME: a user whose key Sealgate holds submits with
 * swaks to a recipient whose public key was imported (`sealgate keys import`); the copy in the
 * Postfix mailbox is PGP/MIME that `gpg` and `sq` decrypt and verify, the sender's own key
 * reads it too, and the outer Subject is "...". The same with S/MIME (certificates from the
 * test PKI of 18-smime): `openssl cms -decrypt` and `-verify`, and `gpgsm`. A recipient whose key expired gets the fallback
 * (verified link, else pickup) and the receipt says why. Keys are made by `gpg` itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { queuedId, submitAs } from '../../helpers/swaks.ts';
import { createGpgsmHome, type GpgsmHome } from '../18-smime/gpgsm-home.ts';
import { createTestPki, type TestPki } from '../18-smime/pki.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const PASSWORD = 'correct horse battery staple';
const SECRET = 'The merger closes on Friday.';

describeWithPeers(['root', 'postfix', 'swaks', 'gpg', 'sq', 'openssl', 'gpgsm'], '19-e2e-outbound: encrypted to a Postfix mailbox, read by gpg, sq, openssl cms and gpgsm', () => {
  const temp = tempDir('e2e-out-pgp');
  let mailbox: PostfixInstance;
  let gateway: GatewayProcess;
  const homes: string[] = [];
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const file = (name: string) => path.join(temp.dir, name);

  function gpg(home: string, args: string[], input?: string | Buffer): { code: number; stdout: Buffer; stderr: string } {
    const r = spawnSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--status-fd', '2', ...args], { input });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
  }
  /** A GNUPGHOME with one key for `address`, made by gpg (Ed25519 / Curve25519). */
  function gnupgKey(name: string, address: string, fakedTime?: string): string {
    const home = file(`gnupg-${name}`);
    mkdirSync(home, { mode: 0o700 });
    homes.push(home);
    const faked = fakedTime ? ['--faked-system-time', fakedTime] : [];
    const made = gpg(home, [...faked, '--quick-gen-key', `${name} <${address}>`, 'future-default', 'default', fakedTime ? '1d' : '0']);
    expect(made.code, made.stderr).toBe(0);
    return home;
  }
  const armoredMessage = (raw: string) => /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(raw)?.[0] ?? '';
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  let alice = '';
  let bob = '';
  let pki: TestPki;
  let gpgsmHome: GpgsmHome | undefined;

  beforeAll(async () => {
    const port = await freePort('127.0.0.11');
    mailbox = await startPostfix({ ip: '127.0.0.11', port, name: 'mailbox.corp.test', mode: 'accept', domains: ['corp.test'] });
    const relay = `127.0.0.11:${port}`;
    const webPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'corp.test': { smarthost: relay, verifyRecipients: 'off' }, 'sender.test': { smarthost: relay, verifyRecipients: 'off' } },
      delivery: { port, connectTimeoutMs: 3000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [60_000], pollIntervalMs: 100 },
      web: { host: '127.0.0.1', port: webPort, publicUrl: `https://127.0.0.1:${webPort}` },
      e2e: { wkd: { enabled: false } },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);

    // Alice's key is held by Sealgate (her secret key imported); Bob's public key is imported.
    alice = gnupgKey('alice', 'alice@sender.test');
    bob = gnupgKey('bob', 'bob@corp.test');
    writeFileSync(file('alice.sec'), gpg(alice, ['--armor', '--export-secret-keys', 'alice@sender.test']).stdout);
    writeFileSync(file('alice.pub'), gpg(alice, ['--armor', '--export', 'alice@sender.test']).stdout);
    writeFileSync(file('bob.sec'), gpg(bob, ['--armor', '--export-secret-keys', 'bob@corp.test']).stdout);
    writeFileSync(file('bob.pub'), gpg(bob, ['--armor', '--export', 'bob@corp.test']).stdout);
    expect(gpg(bob, ['--import', file('alice.pub')]).code).toBe(0);
    for (const key of ['alice.sec', 'bob.pub']) {
      const imported = await gateway.cli('keys', 'import', file(key));
      expect(imported.code, imported.stderr).toBe(0);
    }
    // Carol's key expired long ago (made with gpg's clock set back, valid one day).
    const carol = gnupgKey('carol', 'carol@corp.test', '20200101T000000');
    writeFileSync(file('carol.pub'), gpg(carol, ['--armor', '--export', 'carol@corp.test']).stdout);
    const carolImport = await gateway.cli('keys', 'import', file('carol.pub'));
    expect(carolImport.code, carolImport.stderr).toBe(0);
    // S/MIME: Alice's certificate and key are ours, Dave's certificate is imported.
    pki = createTestPki([
      { name: 'alice', address: 'alice@sender.test', key: 'rsa' },
      { name: 'dave', address: 'dave@corp.test', key: 'rsa' },
    ]);
    for (const args of [[pki.user('alice').certPath, '--key', pki.user('alice').keyPath], [pki.user('dave').certPath]]) {
      const imported = await gateway.cli('keys', 'import', ...args);
      expect(imported.code, imported.stderr).toBe(0);
    }
  });

  afterAll(async () => {
    await gateway?.kill();
    await mailbox?.stop();
    for (const home of homes) spawnSync('gpgconf', ['--homedir', home, '--kill', 'all']);
    gpgsmHome?.cleanup();
    temp.cleanup();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('Sealgate-Encrypt: pgp → PGP/MIME in the mailbox that gpg and sq decrypt and verify; the sender reads it too; the receipt says the route', async () => {
    const sent = await submit('bob@corp.test', ['--header', 'Subject: Merger plans', '--header', 'Sealgate-Encrypt: pgp', '--body', SECRET]);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    const [copy] = await mailbox.waitForMessages(1, 60_000);
    // Nothing of the content travels in the clear; the control header never leaves.
    expect(copy.raw).not.toContain(SECRET);
    expect(copy.raw).not.toContain('Merger plans');
    expect(copy.raw).not.toMatch(/^Sealgate-Encrypt:/im);
    expect(copy.raw).toMatch(/^Subject: \.\.\.$/m);
    expect(copy.raw).toMatch(/^Content-Type: multipart\/encrypted;[\s\S]*application\/pgp-encrypted/m);
    const armored = armoredMessage(copy.raw);
    writeFileSync(file('copy.asc'), armored);

    const byGpg = gpg(bob, ['--decrypt'], armored);
    expect(byGpg.code, byGpg.stderr).toBe(0);
    expect(byGpg.stdout.toString()).toContain(SECRET);
    // RFC 9788: the real subject is inside.
    expect(byGpg.stdout.toString()).toMatch(/Subject: Merger plans/);
    expect(byGpg.stderr).toMatch(/\[GNUPG:\] GOODSIG [0-9A-F]+ alice <alice@sender\.test>/);
    expect(byGpg.stderr).toMatch(/\[GNUPG:\] VALIDSIG/);

    const bySq = spawnSync('sq', ['decrypt', '--recipient-key', file('bob.sec'), '--signer-cert', file('alice.pub'), file('copy.asc')]);
    expect(bySq.status, bySq.stderr.toString()).toBe(0);
    expect(bySq.stdout.toString()).toContain(SECRET);
    expect(bySq.stderr.toString()).toMatch(/Good signature from/);

    // The sent copy stays readable to the sender's own key.
    const byAlice = gpg(alice, ['--decrypt'], armored);
    expect(byAlice.code, byAlice.stderr).toBe(0);
    expect(byAlice.stdout.toString()).toContain(SECRET);

    await until(async () => /delivered\s+<bob@corp\.test>/.test(await show(id)), 30_000, 'delivered in queue show');
    expect(await show(id)).toMatch(/route: end-to-end:openpgp \(the sender asked for end-to-end encryption \(Sealgate-Encrypt: pgp\): encrypted with the recipient's OpenPGP key\)/);
    const detail = JSON.parse((await gateway.cli('queue', 'show', id, '--json')).stdout) as { receipts: { route?: string; routeReason?: string }[] };
    expect(detail.receipts.at(-1)).toMatchObject({ route: 'end-to-end:openpgp', routeReason: expect.stringContaining('Sealgate-Encrypt: pgp') });
    // Issue 13's lifecycle audit: encrypted and signed are events of the message; no key, no content.
    const e2eEvents = async () => (JSON.parse((await gateway.cli('audit', 'list', '--target', id, '--json')).stdout) as { action: string; detail: Record<string, unknown> }[]).filter((e) => /^message\.(encrypted|signed)$/.test(e.action));
    await until(async () => (await e2eEvents()).length === 2, 30_000, 'the encrypted and signed events');
    expect((await e2eEvents()).map((e) => [e.action, e.detail]).sort()).toEqual([
      ['message.encrypted', { recipient: 'bob@corp.test', kind: 'openpgp' }],
      ['message.signed', { recipient: 'bob@corp.test', kind: 'openpgp', signer: 'alice@sender.test' }],
    ]);
  });

  it('Sealgate-Encrypt: smime → S/MIME in the mailbox that openssl cms and gpgsm decrypt and verify; the sender reads it too', async () => {
    const before = mailbox.messages().length;
    const sent = await submit('dave@corp.test', ['--header', 'Subject: Board minutes', '--header', 'Sealgate-Encrypt: smime', '--body', SECRET]);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    const copy = (await mailbox.waitForMessages(before + 1, 60_000)).at(-1)!;
    expect(copy.raw).not.toContain(SECRET);
    expect(copy.raw).not.toContain('Board minutes');
    expect(copy.raw).toMatch(/^Subject: \.\.\.$/m);
    expect(copy.raw).toMatch(/^Content-Type: application\/pkcs7-mime;/m);
    writeFileSync(file('smime.eml'), copy.raw);
    const cms = (args: string[]) => spawnSync('openssl', ['cms', ...args], { cwd: pki.dir });
    const dave = pki.user('dave');
    const decrypted = cms(['-decrypt', '-in', file('smime.eml'), '-recip', dave.certPath, '-inkey', dave.keyPath, '-out', file('inner.eml')]);
    expect(decrypted.status, decrypted.stderr.toString()).toBe(0);
    const inner = readFileSync(file('inner.eml'), 'latin1');
    expect(inner).toContain('Board minutes');
    const verified = cms(['-verify', '-in', file('inner.eml'), '-CAfile', pki.caPath, '-purpose', 'smimesign', '-out', file('verified.eml')]);
    expect(verified.status, verified.stderr.toString()).toBe(0);
    expect(verified.stderr.toString()).toMatch(/Verification successful/);
    expect(readFileSync(file('verified.eml'), 'latin1')).toContain(SECRET);
    // The sender's own certificate is a recipient too.
    const own = cms(['-decrypt', '-in', file('smime.eml'), '-recip', pki.user('alice').certPath, '-inkey', pki.user('alice').keyPath]);
    expect(own.status, own.stderr.toString()).toBe(0);

    // gpgsm reads the same copy: decrypt the enveloped DER, verify the detached signature inside.
    gpgsmHome = createGpgsmHome(pki, 'dave', 'test-passphrase', ['alice']);
    const der = Buffer.from(copy.raw.split(/\r?\n\r?\n/).slice(1).join('').replace(/\s+/g, ''), 'base64');
    writeFileSync(file('smime.p7m'), der);
    const byGpgsm = gpgsmHome.gpgsm(['--passphrase-fd', '0', '--decrypt', file('smime.p7m')], 'test-passphrase').toString('latin1');
    expect(byGpgsm).toContain('Board minutes');
    const boundary = /boundary="?([^";\r\n]+)"?/.exec(byGpgsm)?.[1] ?? '';
    const [, signedPart, signaturePart] = byGpgsm.split(`--${boundary}`);
    writeFileSync(file('signed.part'), signedPart.slice(2, -2), 'latin1');
    writeFileSync(file('sig.p7s'), Buffer.from(signaturePart.split('\r\n\r\n')[1].replace(/\s+/g, ''), 'base64'));
    const status = gpgsmHome.gpgsm(['--status-fd', '1', '--verify', file('sig.p7s'), file('signed.part')]).toString();
    expect(status).toMatch(/GOODSIG/);

    await until(async () => /delivered\s+<dave@corp\.test>/.test(await show(id)), 30_000, 'delivered in queue show');
    expect(await show(id)).toMatch(/route: end-to-end:smime \(the sender asked for end-to-end encryption \(Sealgate-Encrypt: smime\)/);
  });

  it('a recipient whose key expired: never plaintext, a verified link (Postfix has no TLS) else pickup, and the receipt says why', async () => {
    const before = mailbox.messages().length;
    const sent = await submit('carol@corp.test', ['--header', 'Subject: For Carol', '--header', 'Sealgate-Encrypt: auto', '--body', SECRET]);
    const id = queuedId(sent.stdout);
    expect(id).not.toBe('');
    await until(async () => /held for pickup/.test(await show(id)), 60_000, 'the message held for pickup');
    const detail = JSON.parse((await gateway.cli('queue', 'show', id, '--json')).stdout) as { receipts: { route?: string; routeReason?: string }[] };
    expect(detail.receipts.at(-1)).toMatchObject({ route: 'pickup', routeReason: expect.stringMatching(/OpenPGP key expired.*verified link, else held for pickup; then held for pickup/) });
    // Only the pickup notice reached the mailbox, never the message.
    for (const m of mailbox.messages().slice(before)) expect(m.raw).not.toContain(SECRET);
  });

  it('an unknown Sealgate-Encrypt value is refused at submission with a sentence', async () => {
    const sent = await submit('bob@corp.test', ['--header', 'Sealgate-Encrypt: yes please', '--body', SECRET]);
    expect(sent.code).not.toBe(0);
    expect(sent.stdout).toMatch(/550 5\.6\.0 Sealgate-Encrypt: "yes please" is not a choice; write pgp, smime or auto/);
  });
});

