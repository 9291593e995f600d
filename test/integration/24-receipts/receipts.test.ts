import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa, type IssuedCert } from '../../helpers/ca.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { HttpsClient } from '../../helpers/https-client.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';
import { queuedId, submitAs } from '../../helpers/swaks.ts';

/*
 * Signed proof of delivery (issue 12), end to end with the real gateway process:
 *   receipts.test  a real Postfix with STARTTLS (test CA certificate) on 127.0.0.41
 *   sink.test      a recording SMTP receiver with STARTTLS on 127.0.0.42 that keeps the exact
 *                  DATA bytes. Postfix rewrites what it stores (its own Received line, its
 *                  queue file), so the receipt's SHA-256 is compared against the bytes the
 *                  receiver read off the socket, which is what the receipt claims to hash.
 * The exported receipt is checked with the openssl and jq commands README "Proof of delivery"
 * gives, then changed by one byte.
 */
const PASSWORD = 'correct horse battery staple';

describeWithPeers(['root', 'postfix', 'swaks', 'openssl', 'jq'], 'signed receipts with real peers', () => {
  const temp = tempDir('receipts');
  let postfix: PostfixInstance;
  let sink: RecordingSmtp;
  let gateway: GatewayProcess;
  let cert: IssuedCert;
  let webPort: number;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const file = (name: string) => path.join(temp.dir, name);
  /** The openssl command of the docs, run in the temp folder. */
  const opensslVerify = (bin: string, sig: string) =>
    spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'key.pem', '-rawin', '-in', bin, '-sigfile', sig], { cwd: temp.dir, encoding: 'utf8' });

  async function deliveredId(to: string, subject: string): Promise<string> {
    const sent = await submit(to, ['--header', `Subject: ${subject}`]);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    await until(async () => (await gateway.cli('queue', 'show', id)).stdout.includes('(sealgate receipt'), 20_000, `final receipt of ${subject}`);
    return id;
  }

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    cert = await ca.issue(['mx.receipts.test']);
    const port = await freePort('127.0.0.41');
    webPort = await freePort();
    postfix = await startPostfix({ ip: '127.0.0.41', port, name: 'mx.receipts.test', mode: 'accept', domains: ['receipts.test'], tls: cert });
    sink = await startRecordingSmtp({ host: '127.0.0.42', tls: { key: readFileSync(cert.keyPath), cert: readFileSync(cert.certPath) } });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'receipts.test': { smarthost: `127.0.0.41:${port}` }, 'sink.test': { smarthost: `127.0.0.42:${sink.port}` } },
      delivery: { extraCaFiles: [ca.caCertPath], connectTimeoutMs: 3000 },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 200 },
      // Held for pickup only when the sender asks ([secure]); the link alone opens it here.
      pickup: { fallbackOnRequirement: false, whenNoTls: false, defaultVerification: 'link' },
      web: { host: '127.0.0.1', port: webPort, publicUrl: `https://127.0.0.1:${webPort}` },
    }, { cli: 'in-process' });
    const added = await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD);
    expect(added.code, added.stderr).toBe(0);
    const key = await gateway.cli('receipt', 'key');
    expect(key.code, key.stderr).toBe(0);
    writeFileSync(file('key.pem'), key.stdout);
  });

  afterAll(async () => {
    await gateway?.kill();
    await postfix?.stop();
    await sink?.stop();
    temp.cleanup();
  });

  it('a delivery to Postfix over TLS is signed; the export verifies with the documented openssl command; one byte changed fails openssl and receipt verify', async () => {
    const id = await deliveredId('bob@receipts.test', 'proof please');
    await postfix.waitForMessages(1);
    const shown = await gateway.cli('receipt', id, '--export', file('r.json'));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('signature: valid');
    expect(shown.stdout).toMatch(/reply {6}250 2\.0\.0 Ok: queued as \w+/);

    const exported = JSON.parse(readFileSync(file('r.json'), 'utf8'));
    const document = exported.receipts[0].document;
    expect(document).toMatchObject({ kind: 'delivered', messageId: id, mailFrom: 'alice@sender.test', recipient: 'bob@receipts.test', ip: '127.0.0.41', tlsVersion: 'TLSv1.3', route: 'link' });
    expect(document.reply).toMatch(/^250 2\.0\.0 Ok: queued as \w+$/);
    expect(document.messageSha256).toMatch(/^[0-9a-f]{64}$/);
    // The fingerprint of the certificate Postfix presented, as openssl computes it from the file.
    const fingerprint = execFileSync('openssl', ['x509', '-in', cert.certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).split('=')[1].replace(/:/g, '').trim().toLowerCase();
    expect(document.certFingerprint).toBe(fingerprint);

    // README "Proof of delivery", word for word (jq, base64, openssl).
    execFileSync('sh', ['-c', "jq -r '.receipts[0].signed' r.json | base64 -d > r.bin && jq -r '.receipts[0].signature' r.json | base64 -d > r.sig"], { cwd: temp.dir });
    const good = opensslVerify('r.bin', 'r.sig');
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain('Signature Verified Successfully');
    expect(JSON.parse(readFileSync(file('r.bin'), 'utf8'))).toEqual(document);

    const bytes = readFileSync(file('r.bin'));
    const at = bytes.indexOf('TLSv1.3') + 'TLSv1.'.length;
    bytes[at] = '2'.charCodeAt(0); // TLSv1.3 -> TLSv1.2: one byte
    writeFileSync(file('r-changed.bin'), bytes);
    const bad = opensslVerify('r-changed.bin', 'r.sig');
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).not.toContain('Signature Verified Successfully');

    const verified = await gateway.cli('receipt', 'verify', file('r.json'), '--key', file('key.pem'));
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('signature: valid');
    writeFileSync(file('r-changed.json'), JSON.stringify({ ...exported, receipts: [{ ...exported.receipts[0], signed: bytes.toString('base64') }] }));
    const refused = await gateway.cli('receipt', 'verify', file('r-changed.json'), '--key', file('key.pem'));
    expect(refused.code).toBe(65);
    expect(refused.stdout).toContain('INVALID');
  });

  it("the receipt's SHA-256 is that of the DATA bytes the receiver read off the socket", async () => {
    const id = await deliveredId('carol@sink.test', 'hash me');
    const [transaction] = sink.transactions();
    expect(transaction.data.toString('latin1')).toContain('Subject: hash me');
    const json = JSON.parse((await gateway.cli('receipt', id, '--json')).stdout);
    expect(json.valid).toBe(true);
    expect(json.receipts[0].receipt.messageSha256).toBe(createHash('sha256').update(transaction.data).digest('hex'));
    // The control: the digest covers this message, not any message.
    expect(json.receipts[0].receipt.messageSha256).not.toBe(createHash('sha256').update(Buffer.concat([transaction.data, Buffer.from('\r\n')])).digest('hex'));
  });

  it('trace finds deliveries by recipient, sender and time, and each verifies', async () => {
    const found = await gateway.cli('trace', '--to', 'bob@receipts.test', '--json');
    expect(found.code, found.stderr).toBe(0);
    const rows = JSON.parse(found.stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'valid', receipt: { recipient: 'bob@receipts.test', kind: 'delivered', tlsVersion: 'TLSv1.3' } });
    const bySender = JSON.parse((await gateway.cli('trace', '--from', 'alice@sender.test', '--since', '2020-01-01', '--json')).stdout);
    expect(bySender.map((r: { receipt: { recipient: string } }) => r.receipt.recipient).sort()).toEqual(['bob@receipts.test', 'carol@sink.test']);
    expect(JSON.parse((await gateway.cli('trace', '--from', 'alice@sender.test', '--since', new Date(Date.now() + 3_600_000).toISOString(), '--json')).stdout)).toEqual([]);
    const text = await gateway.cli('trace', '--to', 'carol@sink.test');
    expect(text.stdout).toMatch(/delivered .* <alice@sender\.test> -> <carol@sink\.test> .* signed {2}250/);
    expect((await gateway.cli('trace', '--since', 'yesterday')).code).toBe(64);
  });

  it('the receipt key is published as PEM and is not the audit checkpoint key', async () => {
    const json = JSON.parse((await gateway.cli('receipt', 'key', '--json')).stdout);
    expect(json.publicKeyPem).toBe(readFileSync(file('key.pem'), 'utf8'));
    const spki = execFileSync('openssl', ['pkey', '-pubin', '-in', file('key.pem'), '-outform', 'DER']);
    expect(createHash('sha256').update(spki).digest('hex')).toBe(json.fingerprint);
    // The audit key signs checkpoints; its raw public key is the last 32 bytes of an Ed25519 SPKI.
    const checkpoints = await gateway.cli('audit', 'verify', '--json');
    const auditKey = JSON.parse(checkpoints.stdout).publicKey as string;
    expect(Buffer.from(auditKey, 'base64')).toHaveLength(32);
    expect(spki.subarray(-32).toString('base64')).not.toBe(auditKey);
  });

  it('a message held for pickup is signed as held-for-pickup, and opening it in the portal writes a signed pickup-opened receipt', async () => {
    const before = postfix.messages().length;
    const id = await deliveredId('dora@receipts.test', '[secure] lab results');
    await until(() => postfix.messages().slice(before).some((m) => m.raw.includes('/m/')), 40_000, 'the pickup notice');
    const notice = postfix.messages().slice(before).find((m) => m.raw.includes('/m/'))!.raw.replace(/=\r?\n/g, '');
    const [, pickupId, fragment] = /https:\/\/127\.0\.0\.1:\d+\/m\/([A-Za-z0-9_-]+)#([A-Za-z0-9%-]+)/.exec(notice) ?? [];
    expect(pickupId, notice).toBeDefined();
    const held = JSON.parse((await gateway.cli('receipt', id, '--json')).stdout);
    expect(held.receipts.map((r: { status: string; receipt: { kind: string } }) => [r.status, r.receipt.kind])).toEqual([['valid', 'held-for-pickup']]);
    expect(held.receipts[0].receipt).toMatchObject({ route: 'pickup', mxHost: null, messageSha256: null });

    // Opened as a browser would: the form, its CSRF token, the password from the link.
    const client = new HttpsClient(webPort);
    const form = await client.request('GET', `/m/${pickupId}`);
    expect(form.status).toBe(200);
    const opened = await client.request('POST', `/m/${pickupId}`, { form: { _csrf: HttpsClient.csrfOf(form.body), password: decodeURIComponent(fragment) } });
    expect(opened.status, opened.body).toBe(303);
    await until(async () => JSON.parse((await gateway.cli('receipt', id, '--json')).stdout).receipts.length === 2, 10_000, 'the pickup-opened receipt');
    const both = await gateway.cli('receipt', id, '--json');
    expect(both.code, both.stderr).toBe(0);
    const [, open] = JSON.parse(both.stdout).receipts;
    expect(open).toMatchObject({ status: 'valid', receipt: { kind: 'pickup-opened', messageId: id, recipient: 'dora@receipts.test', mailFrom: 'alice@sender.test', ip: '127.0.0.1', route: 'pickup' } });
    expect(open.receipt.reply).toContain(`Secure Message Pickup ${pickupId} opened in the portal`);
    const traced = JSON.parse((await gateway.cli('trace', '--message-id', id, '--json')).stdout);
    expect(traced.map((r: { receipt: { kind: string } }) => r.receipt.kind).sort()).toEqual(['held-for-pickup', 'pickup-opened']);
  });
});
