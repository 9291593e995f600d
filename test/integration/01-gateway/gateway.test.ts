import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa } from '../../helpers/ca.ts';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { RawSmtp } from '../../helpers/raw-smtp.ts';
import { queuedId, runSwaks, serverReplies, submitAs } from '../../helpers/swaks.ts';

/*
 * The gateway as a person runs it (`sealgate serve`, a real process), swaks submitting,
 * dnsmasq answering MX queries, and Postfix instances as destinations on 127.0.0.10–13:
 *   .10 TLS (certificate from the test CA for mx1.tls.test)   .11 no TLS
 *   .12 answers 4xx (switchable)                               .13 answers 5xx
 *   .14 nothing listens (a dead primary MX)
 */
const PASSWORD = 'correct horse battery staple';
// The CLI's domain/queue/tlsrpt logic against this gateway's data, run in this process (a Node
// start each costs over a second); 12-cli/cli.test.ts spawns the real command of each group.
const IN_PROCESS_CLI = { cli: 'in-process' } as const;

describeWithPeers(['root', 'postfix', 'swaks', 'dnsmasq', 'openssl'], 'gateway core with real peers', () => {
  const temp = tempDir('gateway');
  let dns: DnsServer;
  let tlsMx: PostfixInstance;
  let plainMx: PostfixInstance;
  let tempMx: PostfixInstance;
  let rejectMx: PostfixInstance;
  let gateway: GatewayProcess;

  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    const cert = await ca.issue(['mx1.tls.test']);
    const port = await freePort('127.0.0.10');
    dns = await startDns({
      mx: [
        { domain: 'tls.test', host: 'mx1.tls.test', pref: 10 },
        { domain: 'backup.test', host: 'dead.backup.test', pref: 10 },
        { domain: 'backup.test', host: 'mx1.tls.test', pref: 20 },
        { domain: 'plain.test', host: 'mx.plain.test', pref: 10 },
        { domain: 'sender.test', host: 'mx.plain.test', pref: 10 },
        { domain: 'verified-plain.test', host: 'mx.plain.test', pref: 10 },
        { domain: 'badcert.test', host: 'mx.badcert.test', pref: 10 },
        { domain: 'temp.test', host: 'mx.temp.test', pref: 10 },
        { domain: 'reject.test', host: 'mx.reject.test', pref: 10 },
      ],
      a: [
        { name: 'mx1.tls.test', ip: '127.0.0.10' },
        { name: 'mx.badcert.test', ip: '127.0.0.10' },
        { name: 'mx.plain.test', ip: '127.0.0.11' },
        { name: 'implicit.test', ip: '127.0.0.11' },
        { name: 'mx.temp.test', ip: '127.0.0.12' },
        { name: 'mx.reject.test', ip: '127.0.0.13' },
        { name: 'dead.backup.test', ip: '127.0.0.14' },
      ],
      nullMx: ['nullmx.test'],
    });
    [tlsMx, plainMx, tempMx, rejectMx] = await Promise.all([
      startPostfix({ ip: '127.0.0.10', port, name: 'mx1.tls.test', mode: 'accept', domains: ['tls.test', 'backup.test', 'badcert.test'], tls: cert }),
      startPostfix({ ip: '127.0.0.11', port, name: 'mx.plain.test', mode: 'accept', domains: ['plain.test', 'sender.test', 'verified-plain.test', 'implicit.test', 'inbound.test'] }),
      startPostfix({ ip: '127.0.0.12', port, name: 'mx.temp.test', mode: 'tempfail', domains: ['temp.test'] }),
      startPostfix({ ip: '127.0.0.13', port, name: 'mx.reject.test', mode: 'reject', domains: ['reject.test'] }),
    ]);
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'inbound.test': { smarthost: `127.0.0.11:${port}` } },
      delivery: {
        dnsServers: dns.servers,
        port,
        connectTimeoutMs: 3000,
        commandTimeoutMs: 30_000,
        extraCaFiles: [ca.caCertPath],
        tlsPolicies: { 'tls.test': 'verified', 'verified-plain.test': 'verified', 'badcert.test': 'verified', 'plain.test': 'opportunistic' },
        ipFamilies: [4],
      },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 200 },
      // The bounce path and plain MTA behaviour are what this suite checks (plain.test gets
      // mail in plaintext); 06-pickup and 08-secure-default cover the pickup fallbacks.
      pickup: { fallbackOnRequirement: false, whenNoTls: false },
    }, IN_PROCESS_CLI);
    const added = await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD);
    expect(added.code, added.stderr).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await Promise.all([tlsMx?.stop(), plainMx?.stop(), tempMx?.stop(), rejectMx?.stop()]);
    await dns?.stop();
    temp.cleanup();
  });

  it('submits over STARTTLS+AUTH and delivers over verified TLS, with a receipt', async () => {
    const sent = await submit('bob@tls.test', ['--header', 'Subject: verified delivery']);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    const [message] = await tlsMx.waitForMessages(1);
    expect(message.raw).toContain('Subject: verified delivery');
    // Postfix recorded the TLS link we used, and our own Received line records the submission's.
    expect(message.raw).toMatch(/\(using TLSv1\.3 with cipher \S+/);
    expect(message.raw).toMatch(/by gateway\.sealgate\.test \(Sealgate\)\r?\n\t\(using TLSv1\.[23] with cipher [^)]+\)\r?\n\twith ESMTPSA/);
    expect(message.raw).toMatch(/^Message-ID: </im);
    await until(async () => (await show(id)).includes('delivered'), 10_000, 'receipt');
    const receipt = await show(id);
    expect(receipt).toMatch(/mx mx1\.tls\.test \[127\.0\.0\.10\]:\d+ {2}TLSv1\.3 \S+, certificate verified \(CN=mx1\.tls\.test\)/);
    expect(receipt).toMatch(/reply: 250 2\.0\.0 Ok: queued as \w+/);
  });

  it('remembers what each MX proved, and `domain check` reports it', async () => {
    // The delivery above recorded the link it used.
    expect((await gateway.cli('domain', 'show', 'tls.test')).stdout).toMatch(/mx1\.tls\.test \[127\.0\.0\.10\] {2}level tls-verified/);
    const verified = JSON.parse((await gateway.cli('domain', 'check', 'tls.test', '--json')).stdout);
    expect(verified).toMatchObject({ domain: 'tls.test', level: 'tls-verified', mx: [{ host: 'mx1.tls.test', starttlsOffered: true, tls: { verdict: 'Verified', version: 'TLSv1.3' } }] });
    const plain = await gateway.cli('domain', 'check', 'plain.test');
    expect(plain.stdout).toMatch(/every MX reaches at least level none/);
    expect(plain.stdout).toMatch(/no STARTTLS/);
    const wrongName = await gateway.cli('domain', 'check', 'badcert.test');
    expect(wrongName.stdout).toMatch(/level tls\b/);
    expect(wrongName.stdout).toMatch(/name: mx\.badcert\.test NOT matched/);
    const exported = JSON.parse((await gateway.cli('domain', 'export', 'tls.test')).stdout);
    const shared = path.join(temp.dir, 'shared.json');
    writeFileSync(shared, JSON.stringify(exported.map((r: { domain: string }) => ({ ...r, domain: 'partner.test' }))));
    expect((await gateway.cli('domain', 'import', shared)).stdout).toMatch(/imported 1 record/);
    expect((await gateway.cli('domain', 'show', 'partner.test')).stdout).toMatch(/level tls-verified/);
    writeFileSync(shared, JSON.stringify([{ domain: 'x.test' }]));
    const bad = await gateway.cli('domain', 'import', shared);
    expect(bad.code).toBe(65);
    expect(bad.stderr).toMatch(/record 0\.mxHost/);
    const nullMx = await gateway.cli('domain', 'check', 'nullmx.test');
    expect(nullMx.code).toBe(68); // EX_NOHOST
    expect(nullMx.stdout).toMatch(/556 5\.1\.10/);
  });

  it('falls back to the backup MX when the primary is down', async () => {
    const before = tlsMx.messages().length;
    const sent = await submit('carol@backup.test', ['--header', 'Subject: via backup']);
    expect(sent.code).toBe(0);
    const messages = await tlsMx.waitForMessages(before + 1);
    expect(messages.some((m) => m.raw.includes('Subject: via backup'))).toBe(true);
  });

  it('uses the implicit MX (A record) and refuses a null-MX domain at once', async () => {
    const before = plainMx.messages().length;
    expect((await submit('ivan@implicit.test')).code).toBe(0);
    await plainMx.waitForMessages(before + 1);
    const sent = await submit('nobody@nullmx.test');
    const id = queuedId(sent.stdout);
    expect(id, sent.stdout).not.toBe('');
    await until(async () => (await show(id)).includes('failed'), 20_000, 'null MX failure').catch((error) => {
      throw new Error(`${(error as Error).message}\n${gateway.output().slice(-4000)}`);
    });
    expect(await show(id)).toMatch(/556 5\.1\.10 .*null MX/);
  });

  it('never sends a verified-policy message in the clear or to a wrong certificate', async () => {
    const plainBefore = plainMx.messages().length;
    const tlsBefore = tlsMx.messages().length;
    const a = queuedId((await submit('dora@verified-plain.test', ['--header', 'Subject: must not leak'])).stdout);
    const b = queuedId((await submit('eve@badcert.test', ['--header', 'Subject: must not leak either'])).stdout);
    await until(async () => (await show(a)).includes('4.7.5') && (await show(b)).includes('4.7.5'), 15_000, 'policy deferrals');
    expect(await show(a)).toMatch(/met the link policy: .*reached link level 'none', but TLS policy 'verified' requires 'tls-verified' \(.*does not offer STARTTLS\)/);
    expect(await show(b)).toMatch(/met the link policy: .*reached link level 'tls', but TLS policy 'verified' requires 'tls-verified' \(certificate of mx\.badcert\.test: /);
    await new Promise((r) => setTimeout(r, 2500)); // a few retries happen meanwhile
    expect(plainMx.messages().slice(plainBefore).some((m) => m.raw.includes('must not leak'))).toBe(false);
    expect(tlsMx.messages().slice(tlsBefore).some((m) => m.raw.includes('must not leak'))).toBe(false);
    expect(plainMx.log()).not.toMatch(/from=<alice@sender\.test>.*\n.*to=<dora@verified-plain\.test>/);
    await gateway.cli('queue', 'delete', a);
    await gateway.cli('queue', 'delete', b);
  });

  it('bounces at once when no MX offers the link level the sender required', async () => {
    const before = plainMx.messages().length;
    const sent = await submit('gina@plain.test', ['--header', 'Subject: only over verified TLS', '--add-header', 'Sealgate-Require: tls-verified']);
    expect(sent.code, sent.stdout).toBe(0);
    const messages = await plainMx.waitForMessages(before + 1);
    const fresh = messages.slice(before);
    const report = fresh.find((m) => m.raw.includes('multipart/report'));
    expect(report?.raw).toMatch(/Status: 5\.7\.10/);
    expect(report?.raw).toMatch(/Link\s+level\s+'tls-verified'\s+was\s+required\s+for\s+plain\.test;\s+the\s+best\s+found\s+was\s+'none'/);
    expect(report?.raw).not.toMatch(/^Sealgate-Require/m); // the original's headers, as stored
    expect(fresh.filter((m) => !m.raw.includes('multipart/report') && m.raw.includes('only over verified TLS'))).toEqual([]);
  });

  it('retries after a 4xx and delivers once the destination recovers', async () => {
    const id = queuedId((await submit('dave@temp.test', ['--header', 'Subject: after retry'])).stdout);
    await until(async () => /450 4\.2\.0/.test(await show(id)), 10_000, '4xx receipt');
    await tempMx.setMode('accept');
    await gateway.cli('queue', 'retry', id);
    const messages = await tempMx.waitForMessages(1);
    expect(messages[0].raw).toContain('Subject: after retry');
    await until(async () => /delivered/.test(await show(id)), 10_000, 'delivered state');
  });

  it('bounces a 5xx with an RFC 3464 report back to the sender', async () => {
    const before = plainMx.messages().length;
    expect((await submit('frank@reject.test', ['--header', 'Subject: doomed'])).code).toBe(0);
    const messages = await plainMx.waitForMessages(before + 1);
    const report = messages.slice(before).find((m) => m.raw.includes('multipart/report'));
    expect(report?.raw).toMatch(/Final-Recipient: rfc822; frank@reject\.test/);
    expect(report?.raw).toMatch(/Status: 5\.1\.1/);
    expect(report?.raw).toMatch(/Diagnostic-Code: smtp; 550 5\.1\.1/);
    expect(report?.raw).toContain('Subject: doomed');
    expect(report?.raw).toMatch(/^Return-Path: <>/m);
  });

  it('relays inbound mail for its domains to their smarthost, and nothing else', async () => {
    const before = plainMx.messages().length;
    const ok = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'someone@internet.test', '--to', 'doctor@inbound.test', '--header', 'Subject: inbound relay']);
    expect(ok.code, ok.stdout).toBe(0);
    await plainMx.waitForMessages(before + 1);
    for (const victim of ['victim@elsewhere.test', 'victim%elsewhere.test@inbound.test', '@inbound.test:victim@elsewhere.test', '"victim@elsewhere.test"@inbound.test']) {
      const relay = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'spammer@internet.test', '--to', victim]);
      expect(relay.code).not.toBe(0);
      expect(serverReplies(relay.stdout).join('\n')).toMatch(/5\d\d /);
    }
  });

  it('refuses AUTH without TLS', async () => {
    const client = await RawSmtp.connect(gateway.ports.submission);
    expect(await client.command('EHLO attacker.test')).not.toMatch(/AUTH/);
    expect(await client.command(`AUTH PLAIN ${Buffer.from(`\0alice@sender.test\0${PASSWORD}`).toString('base64')}`)).toMatch(/^538 5\.7\.11/);
    client.close();
    const swaks = await runSwaks(['--server', `127.0.0.1:${gateway.ports.submission}`, '--auth', 'PLAIN', '--auth-user', 'alice@sender.test', '--auth-password', PASSWORD, '--from', 'alice@sender.test', '--to', 'x@plain.test']);
    expect(swaks.code).not.toBe(0);
    expect(swaks.stdout).not.toMatch(/235 /);
  });

  it('refuses SMTP smuggling and accepts nothing smuggled', async () => {
    const before = plainMx.messages().length;
    const client = await RawSmtp.connect(gateway.ports.inbound);
    await client.command('EHLO mta.test');
    await client.command('MAIL FROM:<a@internet.test>');
    await client.command('RCPT TO:<doctor@inbound.test>');
    await client.command('DATA');
    client.write('Subject: carrier\r\n\r\nhello\n.\nMAIL FROM:<ceo@inbound.test>\r\nRCPT TO:<doctor@inbound.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nwire the money\r\n.\r\n');
    expect(await client.reply()).toMatch(/^554 5\.6\.11/);
    expect(await client.command('QUIT')).toMatch(/^221/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(plainMx.messages().slice(before).some((m) => /smuggled|wire the money/.test(m.raw))).toBe(false);
  });

  it('refuses a 51 MB message with 552 5.3.4', async () => {
    const big = path.join(temp.dir, 'big.eml');
    const line = `${'x'.repeat(76)}\r\n`;
    writeFileSync(big, `Subject: huge\r\n\r\n${line.repeat(Math.ceil((51 * 1024 * 1024) / line.length))}`);
    const result = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'a@internet.test', '--to', 'doctor@inbound.test', '--data', big]);
    expect(serverReplies(result.stdout).at(-2) ?? serverReplies(result.stdout).join('\n')).toMatch(/^552 5\.3\.4/);
  });

  it('delivers exactly once after kill -9 between the 250 and delivery', async () => {
    await tempMx.setMode('tempfail');
    const before = tempMx.messages().length;
    const sent = await submit('kim@temp.test', ['--header', 'Subject: survives kill -9']);
    expect(sent.stdout).toMatch(/250 2\.0\.0 Ok: queued as/);
    await gateway.kill('SIGKILL');
    await tempMx.setMode('accept');
    await gateway.restart();
    const messages = await tempMx.waitForMessages(before + 1, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    const copies = tempMx.messages().filter((m) => m.raw.includes('Subject: survives kill -9'));
    if (copies.length !== 1) console.error(gateway.output().slice(-6000), tempMx.log().slice(-4000));
    expect(copies).toHaveLength(1);
    expect(messages.length).toBe(before + 1);
  });
});
