import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa } from '../../helpers/ca.ts';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordedTransaction, type RecordingSmtp } from '../../helpers/recording-smtp.ts';
import { queuedId, submitAs } from '../../helpers/swaks.ts';

/*
 * Issue 10 items 1, 2, 4, 5: secure by default, with the real gateway process, swaks over
 * SMTP AUTH, dnsmasq MX records and byte-recording receivers. Defaults only (no pickup.* or
 * delivery.* TLS keys):
 *
 * - plain.test: its MX (127.0.0.81) offers no STARTTLS.
 * - pinned.test: MX 10 is that plaintext receiver, MX 20 (127.0.0.84) offers STARTTLS with a
 *   certificate nobody trusts (level `tls`); the admin pins the domain to tls-verified.
 * - tls.test: only the `tls` receiver; pinned by the CLI while the gateway runs.
 * - clinic.test and sender.test are our own domains, relayed to a recording smarthost.
 */
const PASSWORD = 'correct horse battery staple';
const BODY_TEXT = 'Creatinine 1.1 mg/dL, potassium 4.2 mmol/L';
const ATTACHMENT = 'lab-results-2026.pdf';
const SUBJECT = 'Lab results for Mr Example';

describeWithPeers(['dnsmasq', 'swaks', 'openssl'], 'secure by default: TLS or pickup, notices tracked, pins at once', () => {
  const temp = tempDir('secure-default');
  let dns: DnsServer;
  let plainMx: RecordingSmtp;
  let tlsMx: RecordingSmtp;
  let smarthost: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const attachment = path.join(temp.dir, ATTACHMENT);

  const to = (rx: RecordingSmtp, address: string): RecordedTransaction[] => rx.transactions().filter((t) => t.rcptTo.some((r) => r.toString('latin1').startsWith(`<${address}>`)));
  const text = (t: RecordedTransaction) => t.data.toString('latin1');
  const events = (recipient: string) => {
    const db = new Database(path.join(gateway.dir, 'data', 'sealgate.db'), { readonly: true });
    try {
      return db.prepare('select e.kind, e.detail from pickup_events e join pickup_messages m on m.id = e.message_id where m.recipient = ? order by e.id').all(recipient) as { kind: string; detail: string | null }[];
    } finally {
      db.close();
    }
  };
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  /** The body must never reach the destination: not its text, not its subject, not the attachment's name. */
  function expectOnlyNotice(t: RecordedTransaction): void {
    expect(t.mailFrom.toString('latin1')).toMatch(/^<>/);
    const data = text(t);
    expect(data).toMatch(/\/m\/[A-Za-z0-9_-]{22}#/);
    for (const secret of [BODY_TEXT, 'Creatinine', SUBJECT, ATTACHMENT, 'lab-results', '[secure]']) expect(data).not.toContain(secret);
  }

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    const issued = await ca.issue(['mx2.pinned.test', 'mx.tls.test']);
    writeFileSync(attachment, `%PDF-1.4\n${BODY_TEXT}\n`);
    plainMx = await startRecordingSmtp({
      host: '127.0.0.81',
      // The notice to nobody@ is refused for good: the pickup's sender must hear of it.
      reply: (line, stage) => (stage === 'rcpt' && line.toString('latin1').includes('nobody@') ? '550 5.7.1 <nobody@pinned.test>: notices are not accepted here' : undefined),
    });
    tlsMx = await startRecordingSmtp({
      host: '127.0.0.84',
      port: plainMx.port,
      tls: { key: issued.keyPem, cert: issued.certPem },
      reply: (line, stage) => (stage === 'rcpt' && line.toString('latin1').includes('nobody@') ? '550 5.7.1 <nobody@pinned.test>: notices are not accepted here' : undefined),
    });
    smarthost = await startRecordingSmtp({ host: '127.0.0.82' });
    dns = await startDns({
      mx: [
        { domain: 'plain.test', host: 'mx.plain.test', pref: 10 },
        { domain: 'pinned.test', host: 'mx1.pinned.test', pref: 10 },
        { domain: 'pinned.test', host: 'mx2.pinned.test', pref: 20 },
        { domain: 'tls.test', host: 'mx.tls.test', pref: 10 },
      ],
      a: [
        { name: 'mx.plain.test', ip: '127.0.0.81' },
        { name: 'mx1.pinned.test', ip: '127.0.0.81' },
        { name: 'mx2.pinned.test', ip: '127.0.0.84' },
        { name: 'mx.tls.test', ip: '127.0.0.84' },
      ],
    });
    const relay = `${smarthost.host}:${smarthost.port}`;
    const webPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'clinic.test': { smarthost: relay, verifyRecipients: 'off' }, 'sender.test': { smarthost: relay, verifyRecipients: 'off' } },
      delivery: { dnsServers: dns.servers, port: plainMx.port, connectTimeoutMs: 3000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [60_000], pollIntervalMs: 100 },
      web: { host: '127.0.0.1', port: webPort, publicUrl: `https://127.0.0.1:${webPort}` },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
    expect((await gateway.cli('domain', 'pin', 'pinned.test', 'tls-verified')).code).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await Promise.all([plainMx?.stop(), tlsMx?.stop(), smarthost?.stop()]);
    await dns?.stop();
    temp.cleanup();
  });

  it('(a) with the defaults, mail to an MX without STARTTLS becomes a pickup: the mailbox gets only the notice', async () => {
    const sent = await submit('bob@plain.test', ['--header', `Subject: ${SUBJECT}`, '--body', BODY_TEXT, '--attach-type', 'application/pdf', '--attach', `@${attachment}`]);
    expect(sent.code, sent.stdout).toBe(0);
    await until(() => to(plainMx, 'bob@plain.test').length > 0, 20_000, 'the notice to bob@plain.test');
    await new Promise((r) => setTimeout(r, 300));
    const arrived = to(plainMx, 'bob@plain.test');
    expect(arrived).toHaveLength(1);
    expectOnlyNotice(arrived[0]);
    const id = queuedId(sent.stdout);
    await until(async () => /notice \S+: delivered/.test(await show(id)), 10_000, 'queue show to say the notice was delivered');
    const shown = await show(id);
    expect(shown).toMatch(/held for pickup [A-Za-z0-9_-]{22} <bob@plain\.test>/);
    expect(shown).toMatch(/notice \S+: delivered .*no TLS.*WARNING: below tls-verified/);
    expect(shown).not.toMatch(/mx - \[-\]:- no TLS/);
    expect(shown).toMatch(/will most likely go in plain text/); // said before the notice went (item 3)
    expect(events('bob@plain.test').map((e) => e.kind)).toEqual(expect.arrayContaining(['notice-sent', 'notice-delivered']));
  });

  it('(b) a pinned plaintext destination: pickup, notice over the best link an MX offers (TLS on the backup MX)', async () => {
    const sent = await submit('carol@pinned.test', ['--header', `Subject: ${SUBJECT}`, '--body', BODY_TEXT]);
    expect(sent.code, sent.stdout).toBe(0);
    await until(() => to(tlsMx, 'carol@pinned.test').length > 0, 20_000, 'the notice to carol@pinned.test over TLS');
    expect(to(plainMx, 'carol@pinned.test')).toEqual([]); // never the plaintext primary MX
    expectOnlyNotice(to(tlsMx, 'carol@pinned.test')[0]);
    await until(() => events('carol@pinned.test').some((e) => e.kind === 'notice-delivered'), 10_000, 'the notice-delivered event');
    const delivered = events('carol@pinned.test').find((e) => e.kind === 'notice-delivered')!;
    expect(delivered.detail).toMatch(/over 'tls' via mx2\.pinned\.test \[127\.0\.0\.84\]/);
    const shown = await show(queuedId(sent.stdout));
    // The pin is named in the reason the message was held.
    expect(shown).toMatch(/pinned\.test is pinned to 'tls-verified' by the administrator \(sealgate domain pin\)/);
  });

  it('(b) a notice the MX refuses: the sender gets a DSN naming recipient and reason, the pickup records notice-failed', async () => {
    const sent = await submit('nobody@pinned.test', ['--header', `Subject: ${SUBJECT}`, '--body', BODY_TEXT]);
    expect(sent.code, sent.stdout).toBe(0);
    await until(() => to(smarthost, 'alice@sender.test').some((t) => text(t).includes('nobody@pinned.test')), 20_000, 'the DSN to alice@sender.test');
    const dsn = text(to(smarthost, 'alice@sender.test').find((t) => text(t).includes('nobody@pinned.test'))!);
    expect(dsn).toMatch(/multipart\/report; report-type=delivery-status/);
    expect(dsn).toMatch(/Final-Recipient: rfc822; ?nobody@pinned\.test/);
    expect(dsn).toMatch(/Status: 5\.7\.1/);
    expect(dsn).toContain('notices are not accepted here');
    expect(dsn).toMatch(/held for Secure\s+Message Pickup/);
    for (const secret of [BODY_TEXT, SUBJECT]) expect(dsn).not.toContain(secret);
    await until(() => events('nobody@pinned.test').some((e) => e.kind === 'notice-failed'), 10_000, 'the notice-failed event');
    expect(events('nobody@pinned.test').find((e) => e.kind === 'notice-failed')!.detail).toMatch(/^550 5\.7\.1 .*notices are not accepted here/);
    expect(await show(queuedId(sent.stdout))).toMatch(/notice \S+: FAILED: 550 5\.7\.1/);
  });

  it('(c) [secure] to our own domain: a pickup; the smarthost gets only the notice, no [secure] anywhere', async () => {
    const sent = await submit('patient@clinic.test', ['--header', `Subject: [secure] ${SUBJECT}`, '--body', BODY_TEXT, '--attach-type', 'application/pdf', '--attach', `@${attachment}`]);
    expect(sent.code, sent.stdout).toBe(0);
    await until(() => to(smarthost, 'patient@clinic.test').length > 0, 20_000, 'the notice to patient@clinic.test');
    await new Promise((r) => setTimeout(r, 300));
    const arrived = to(smarthost, 'patient@clinic.test');
    expect(arrived).toHaveLength(1);
    expectOnlyNotice(arrived[0]);
    expect(smarthost.bytes().toString('latin1').toLowerCase()).not.toContain('[secure]');
    expect(await show(queuedId(sent.stdout))).toMatch(/held for pickup [A-Za-z0-9_-]{22} <patient@clinic\.test>/);
    // A client that encodes a non-ASCII subject whole (RFC 2047) hides the tag in base64.
    const encoded = `=?UTF-8?B?${Buffer.from('Laborbefund für Müller [secure]', 'utf8').toString('base64')}?=`;
    const second = await submit('mueller@clinic.test', ['--header', `Subject: ${encoded}`, '--body', BODY_TEXT]);
    expect(second.code, second.stdout).toBe(0);
    await until(() => to(smarthost, 'mueller@clinic.test').length > 0, 20_000, 'the notice to mueller@clinic.test');
    expectOnlyNotice(to(smarthost, 'mueller@clinic.test')[0]);
    expect(text(to(smarthost, 'mueller@clinic.test')[0])).not.toContain(encoded);
  });

  it('(d) a pin set by the CLI while serve runs holds the very next message', async () => {
    // Before the pin: tls.test takes mail over unverified TLS (TLS or pickup is met).
    const before = await submit('dave@tls.test', ['--header', 'Subject: before the pin', '--body', 'ordinary mail']);
    expect(before.code, before.stdout).toBe(0);
    await until(() => to(tlsMx, 'dave@tls.test').length === 1, 20_000, 'the first message over TLS');
    expect(text(to(tlsMx, 'dave@tls.test')[0])).toContain('ordinary mail');
    // The pin from another process; the next message follows within the old cache's 30 s.
    expect((await gateway.cli('domain', 'pin', 'tls.test', 'tls-verified')).code).toBe(0);
    const after = await submit('dave@tls.test', ['--header', `Subject: ${SUBJECT}`, '--body', BODY_TEXT]);
    expect(after.code, after.stdout).toBe(0);
    await until(async () => /held for pickup/.test(await show(queuedId(after.stdout))), 15_000, 'the second message held for pickup');
    expect(await show(queuedId(after.stdout))).toMatch(/tls\.test is pinned to 'tls-verified' by the administrator/);
    await until(() => to(tlsMx, 'dave@tls.test').length === 2, 20_000, 'the notice');
    expectOnlyNotice(to(tlsMx, 'dave@tls.test')[1]);
  });
});
