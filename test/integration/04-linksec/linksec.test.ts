import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa } from '../../helpers/ca.ts';
import { DNSSEC_TOOLS, startDnssecDns, type DnssecDns } from '../../helpers/dnssec.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { startPolicyServer, type PolicyServer } from '../../helpers/https-policy.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { RawSmtp } from '../../helpers/raw-smtp.ts';
import { startStripProxy, type StripProxy } from '../../helpers/strip-proxy.ts';
import { queuedId, submitAs } from '../../helpers/swaks.ts';
import { tlsaFromCertPem } from '../../helpers/tlsa.ts';

/*
 * Link security against real peers on loopback. unbound validates a DNSSEC-signed test world
 * (ldns-signzone); an HTTPS server (test CA) serves MTA-STS policies; STARTTLS-stripping proxies
 * sit in front of Postfix; a second Sealgate receives REQUIRETLS mail.
 *   .21 Postfix, certificate A (mx.dane.test)    — dane.test (TLSA matches A)
 *   .22 Postfix, certificate B (mx.danebad.test) — danebad.test (TLSA names A: mismatch)
 *   .23 Postfix, certificate C (mx.sts.test …)   — sts.test (MTA-STS enforce), mailboxes
 *   .24 stripping proxy → .23 — strip.test (MTA-STS enforce)
 *   .25 stripping proxy → .23 — open.test (no policy: opportunistic)
 *   .26 stripping proxy → .21 — danestrip.test (DANE)
 *   .27 second Sealgate (REQUIRETLS receiver) — rt.test (MTA-STS enforce)
 * bogus.test is signed with a key that is not the trust anchor (DNSSEC-bogus).
 */
const PASSWORD = 'correct horse battery staple';
// The CLI's domain/queue/tlsrpt logic against this gateway's data, run in this process (a Node
// start each costs over a second); 12-cli/cli.test.ts spawns the real command of each group.
const IN_PROCESS_CLI = { cli: 'in-process' } as const;
const policy = (mx: string) => `version: STSv1\nmode: enforce\nmx: ${mx}\nmax_age: 86400\n`;

describeWithPeers(['root', 'postfix', 'swaks', 'openssl', ...DNSSEC_TOOLS], 'link security with real peers', () => {
  const temp = tempDir('linksec');
  let dns: DnssecDns;
  let policies: PolicyServer;
  let daneMx: PostfixInstance;
  let daneBadMx: PostfixInstance;
  let box: PostfixInstance;
  const proxies: Record<'strip' | 'open' | 'danestrip', StripProxy> = {} as never;
  let gateway: GatewayProcess;
  let receiver: GatewayProcess;

  const submit = submitAs(() => gateway.ports.submission, PASSWORD);
  const show = async (id: string) => (await gateway.cli('queue', 'show', id)).stdout;
  const delivered = (instance: PostfixInstance, marker: string) => instance.messages().some((m) => m.raw.includes(marker));

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    const [certA, certB, certC, certRt] = await Promise.all([
      ca.issue(['mx.dane.test', 'mx.danestrip.test']),
      ca.issue(['mx.danebad.test']),
      ca.issue(['mx.sts.test', 'mx.strip.test', 'mx.open.test']),
      ca.issue(['mx.rt.test']),
    ]);
    const tlsaA = tlsaFromCertPem(certA.certPem, 3, 1, 1);
    const tlsa = `TLSA ${tlsaA.usage} ${tlsaA.selector} ${tlsaA.matchingType} ${tlsaA.hex}`;
    const port = await freePort('127.0.0.21');
    policies = await startPolicyServer({ ca, policies: { 'sts.test': policy('mx.sts.test'), 'strip.test': policy('mx.strip.test'), 'rt.test': policy('mx.rt.test') } });
    const sts = ['_mta-sts TXT "v=STSv1; id=20261126"', 'mta-sts A 127.0.0.1', '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test"'];
    dns = await startDnssecDns([
      { name: 'dane.test', dnssec: 'signed', records: ['@ MX 10 mx', 'mx A 127.0.0.21', `_25._tcp.mx ${tlsa}`] },
      { name: 'danebad.test', dnssec: 'signed', records: ['@ MX 10 mx', 'mx A 127.0.0.22', `_25._tcp.mx ${tlsa}`] },
      { name: 'danestrip.test', dnssec: 'signed', records: ['@ MX 10 mx', 'mx A 127.0.0.26', `_25._tcp.mx ${tlsa}`] },
      { name: 'bogus.test', dnssec: 'bogus', records: ['@ MX 10 mx', 'mx A 127.0.0.21'] },
      { name: 'sts.test', dnssec: 'unsigned', records: ['@ MX 10 mx', 'mx A 127.0.0.23', ...sts] },
      { name: 'strip.test', dnssec: 'unsigned', records: ['@ MX 10 mx', 'mx A 127.0.0.24', ...sts] },
      { name: 'open.test', dnssec: 'unsigned', records: ['@ MX 10 mx', 'mx A 127.0.0.25'] },
      { name: 'rt.test', dnssec: 'unsigned', records: ['@ MX 10 mx', 'mx A 127.0.0.27', ...sts.slice(0, 2)] },
      { name: 'reports.test', dnssec: 'unsigned', records: ['@ MX 10 mx.sts.test.'] },
      { name: 'sender.test', dnssec: 'unsigned', records: ['@ MX 10 mx.sts.test.'] },
    ]);
    [daneMx, daneBadMx, box] = await Promise.all([
      startPostfix({ ip: '127.0.0.21', port, name: 'mx.dane.test', mode: 'accept', domains: ['dane.test', 'danestrip.test'], tls: certA }),
      startPostfix({ ip: '127.0.0.22', port, name: 'mx.danebad.test', mode: 'accept', domains: ['danebad.test'], tls: certB }),
      startPostfix({ ip: '127.0.0.23', port, name: 'mx.sts.test', mode: 'accept', domains: ['sts.test', 'strip.test', 'open.test', 'reports.test', 'sender.test', 'rt.test'], tls: certC }),
    ]);
    proxies.strip = await startStripProxy({ ip: '127.0.0.24', port, upstream: { host: '127.0.0.23', port } });
    proxies.open = await startStripProxy({ ip: '127.0.0.25', port, upstream: { host: '127.0.0.23', port } });
    proxies.danestrip = await startStripProxy({ ip: '127.0.0.26', port, upstream: { host: '127.0.0.21', port } });
    const delivery = {
      dnsServers: dns.servers,
      dnssecResolvers: dns.servers,
      port,
      mtaSts: { port: policies.port },
      extraCaFiles: [ca.caCertPath],
      connectTimeoutMs: 3000,
      commandTimeoutMs: 30_000,
      ipFamilies: [4],
    };
    receiver = await startGateway(path.join(temp.dir, 'receiver'), {
      hostname: 'mx.rt.test',
      listeners: { inbound: { host: '127.0.0.27', port }, submission: { host: '127.0.0.1', port: await freePort() }, submissionTls: { host: '127.0.0.1', port: await freePort() } },
      tls: { certFile: certRt.certPath, keyFile: certRt.keyPath },
      domains: { 'rt.test': { smarthost: `127.0.0.23:${port}` } },
      delivery,
      queue: { retryScheduleMs: [60_000], pollIntervalMs: 200 },
    }, IN_PROCESS_CLI);
    // Bounces and plain MTA behaviour (open.test in the clear) are what this suite checks;
    // 06-pickup and 08-secure-default cover the pickup fallbacks.
    gateway = await startGateway(path.join(temp.dir, 'gw'), { delivery, queue: { retryScheduleMs: [1000], pollIntervalMs: 200 }, pickup: { fallbackOnRequirement: false, whenNoTls: false } }, IN_PROCESS_CLI);
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await receiver?.kill();
    for (const proxy of Object.values(proxies)) await proxy?.stop();
    await Promise.all([daneMx?.stop(), daneBadMx?.stop(), box?.stop()]);
    await policies?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('delivers over DANE when the TLSA record matches, and records level dane', async () => {
    const id = queuedId((await submit('dan@dane.test', ['--header', 'Subject: over dane'])).stdout);
    await daneMx.waitForMessages(1);
    expect(delivered(daneMx, 'Subject: over dane')).toBe(true);
    await until(async () => (await show(id)).includes('delivered'), 10_000, 'receipt');
    expect((await gateway.cli('domain', 'show', 'dane.test')).stdout).toMatch(/mx\.dane\.test \[127\.0\.0\.21\] {2}level dane\n.*\n\s+DANE matched/);
  });

  it('refuses a TLSA mismatch even with a PKIX-valid certificate, and defers a bogus zone', async () => {
    const bad = queuedId((await submit('dan@danebad.test', ['--header', 'Subject: dane mismatch'])).stdout);
    const bogus = queuedId((await submit('dan@bogus.test', ['--header', 'Subject: bogus zone'])).stdout);
    await until(async () => (await show(bad)).includes('4.7.5') && /4\.4\.3|4\.7\.5/.test(await show(bogus)), 15_000, 'deferrals');
    expect(await show(bad)).toMatch(/reached link level 'tls-verified', but the destination's DANE TLSA records requires 'dane' \(DANE: no TLSA record matched/);
    expect(await show(bogus)).toMatch(/SERVFAIL|DNSSEC/);
    expect(delivered(daneBadMx, 'dane mismatch') || delivered(daneMx, 'bogus zone')).toBe(false);
    await gateway.cli('queue', 'delete', bad);
    await gateway.cli('queue', 'delete', bogus);
  });

  it('follows MTA-STS enforce: verified TLS to a listed MX', async () => {
    const id = queuedId((await submit('sam@sts.test', ['--header', 'Subject: over mta-sts'])).stdout);
    await until(() => delivered(box, 'Subject: over mta-sts'), 10_000, 'MTA-STS delivery');
    await until(async () => (await show(id)).includes('delivered'), 10_000, 'receipt');
    expect(await show(id)).toMatch(/certificate verified/);
    expect(policies.requests.some((r) => r.host === 'mta-sts.sts.test')).toBe(true);
  });

  it('gives a STARTTLS stripper nothing under MTA-STS or DANE, and records a plain link as none', async () => {
    const strip = queuedId((await submit('sam@strip.test', ['--header', 'Subject: stripped sts'])).stdout);
    const daneStrip = queuedId((await submit('dan@danestrip.test', ['--header', 'Subject: stripped dane'])).stdout);
    await until(async () => (await show(strip)).includes('4.7.5') && (await show(daneStrip)).includes('4.7.5'), 15_000, 'policy deferrals');
    await new Promise((r) => setTimeout(r, 2500)); // retries happen meanwhile
    for (const proxy of [proxies.strip, proxies.danestrip]) {
      expect(proxy.sessions()).toBeGreaterThan(0);
      expect(proxy.clientBytes()).not.toMatch(/^DATA|stripped|^MAIL FROM/m);
    }
    expect(await show(strip)).toMatch(/reached link level 'none', but the destination's MTA-STS policy \(enforce\) requires 'tls-verified'/);
    await gateway.cli('queue', 'delete', strip);
    await gateway.cli('queue', 'delete', daneStrip);
    // Without a policy the same attacker gets the message, and the memory says what happened.
    await submit('olga@open.test', ['--header', 'Subject: opportunistic in clear']);
    await until(() => delivered(box, 'Subject: opportunistic in clear'), 10_000, 'opportunistic delivery');
    expect(proxies.open.clientBytes()).toMatch(/Subject: opportunistic in clear/);
    expect((await gateway.cli('domain', 'show', 'open.test')).stdout).toMatch(/mx\.open\.test \[127\.0\.0\.25\] {2}level none\n\s+no STARTTLS/);
    // RFC 8689 §5: the sender waived the destination's policy with TLS-Required: No.
    await submit('sam@strip.test', ['--header', 'Subject: waived policy', '--add-header', 'TLS-Required: No']);
    await until(() => delivered(box, 'Subject: waived policy'), 10_000, 'delivery with TLS-Required: No');
    expect(proxies.strip.clientBytes()).toMatch(/Subject: waived policy[\s\S]*TLS-Required: No|TLS-Required: No[\s\S]*Subject: waived policy/);
  });

  it('holds a pinned domain to its level and bounces with what was required and found', async () => {
    expect((await gateway.cli('domain', 'pin', 'open.test', 'tls', '--note', 'partner')).stdout).toMatch(/at least tls/);
    expect((await gateway.cli('domain', 'pins')).stdout).toMatch(/open\.test {2}at least tls {2}\(partner\)/);
    // No restart: delivery reads the pin before each attempt (issue 10 item 5).
    const before = box.messages().length;
    await submit('olga@open.test', ['--header', 'Subject: pinned in clear']);
    await until(() => box.messages().slice(before).some((m) => m.raw.includes('multipart/report') && m.raw.includes('open.test')), 30_000, 'bounce');
    const report = box.messages().slice(before).find((m) => m.raw.includes('multipart/report'))!;
    expect(report.raw).toMatch(/Status: 5\.7\.10/);
    // The bounce names the pin as what refused (issue 10 item 5).
    expect(report.raw).toMatch(/open\.test\s+is\s+pinned\s+to\s+'tls'\s+by\s+the\s+administrator\s+\(sealgate\s+domain\s+pin\);\s+the\s+best\s+found\s+was\s+'none'/);
    expect(proxies.open.clientBytes()).not.toMatch(/pinned in clear/);
    await gateway.cli('domain', 'unpin', 'open.test');
  });

  it('sends REQUIRETLS only to an MTA-STS-verified MX that advertises it; bounces 5.7.30 otherwise', async () => {
    const c = await RawSmtp.connect(gateway.ports.submission);
    await c.command('EHLO client.test');
    await c.startTls();
    expect(await c.command('EHLO client.test')).toMatch(/REQUIRETLS/);
    expect(await c.command(`AUTH PLAIN ${Buffer.from(`\0alice@sender.test\0${PASSWORD}`).toString('base64')}`)).toMatch(/^235/);
    for (const [to, subject] of [['rita@rt.test', 'requiretls ok'], ['sam@sts.test', 'requiretls refused']]) {
      expect(await c.command('MAIL FROM:<alice@sender.test> REQUIRETLS')).toMatch(/^250/);
      expect(await c.command(`RCPT TO:<${to}>`)).toMatch(/^250/);
      expect(await c.command('DATA')).toMatch(/^354/);
      c.write(`Subject: ${subject}\r\n\r\nbody\r\n.\r\n`);
      expect(await c.reply()).toMatch(/^250 /);
    }
    await c.command('QUIT');
    // The second Sealgate took it over TLS with REQUIRETLS kept on its queue.
    await until(async () => /REQUIRETLS/.test((await receiver.cli('queue', 'list', '--all')).stdout + (await firstShow(receiver))), 15_000, 'REQUIRETLS at the receiver');
    // The report of a REQUIRETLS message is redacted (RFC 8689 §4.3): no Subject, only Message-ID and Date.
    const isRefusal = (m: { raw: string }) => m.raw.includes('multipart/report') && /Final-Recipient: rfc822; sam@sts\.test/.test(m.raw) && /Status: 5\.7\.30/.test(m.raw);
    await until(() => box.messages().some(isRefusal), 15_000, '5.7.30 bounce');
    const bounce = box.messages().find(isRefusal)!;
    expect(bounce.raw).not.toMatch(/requiretls refused/);
    expect(box.messages().some((m) => !m.raw.includes('multipart/report') && m.raw.includes('Subject: requiretls refused'))).toBe(false);
    // A plaintext REQUIRETLS is refused by the receiver side.
    const plain = await RawSmtp.connect(gateway.ports.inbound);
    await plain.command('EHLO client.test');
    expect(await plain.command('MAIL FROM:<x@y.test> REQUIRETLS')).toMatch(/^5\d\d /);
    await plain.command('QUIT');
  });

  it('`domain check` reports each kind of destination', async () => {
    const dane = await gateway.cli('domain', 'check', 'dane.test');
    expect(dane.stdout).toMatch(/every MX reaches at least level dane/);
    expect(dane.stdout).toMatch(/DNSSEC: MX records signed and validated/);
    expect(dane.stdout).toMatch(/DANE matched: TLSA 3 1 1 matched/);
    const bad = await gateway.cli('domain', 'check', 'danebad.test');
    expect(bad.stdout).toMatch(/DANE MISMATCH: no TLSA record matched/);
    const sts = JSON.parse((await gateway.cli('domain', 'check', 'sts.test', '--json')).stdout);
    expect(sts).toMatchObject({ domain: 'sts.test', level: 'tls-verified', mtaSts: { mode: 'enforce', mx: ['mx.sts.test'] }, tlsRpt: ['tlsrpt@reports.test'], dnssec: { mxSecure: false } });
    const strip = await gateway.cli('domain', 'check', 'strip.test');
    expect(strip.stdout).toMatch(/level none/);
    expect(strip.stdout).toMatch(/MTA-STS: enforce/);
    const open = await gateway.cli('domain', 'check', 'open.test');
    expect(open.stdout).toMatch(/MTA-STS: no policy/);
    expect(open.stdout).toMatch(/no STARTTLS/);
    const bogus = await gateway.cli('domain', 'check', 'bogus.test');
    expect(bogus.code).toBe(75); // EX_TEMPFAIL: DNSSEC-bogus defers
    expect(bogus.stdout).toMatch(/4\.4\.3|DNSSEC/);
  });

  it('counts TLS-RPT results and mails the RFC 8460 report', async () => {
    const pending = JSON.parse((await gateway.cli('tlsrpt', '--json')).stdout) as { 'organization-name': string; policies: { policy: { 'policy-domain': string; 'policy-type': string }; summary: Record<string, number>; 'failure-details'?: { 'result-type': string }[] }[] }[];
    const all = pending.flatMap((r) => r.policies);
    const strip = all.find((p) => p.policy['policy-domain'] === 'strip.test');
    expect(strip?.summary['total-failure-session-count']).toBeGreaterThan(0);
    expect(strip?.['failure-details']?.map((f) => f['result-type'])).toContain('starttls-not-supported');
    const sts = all.find((p) => p.policy['policy-domain'] === 'sts.test' && p.policy['policy-type'] === 'sts');
    expect(sts?.summary['total-successful-session-count']).toBeGreaterThan(0);
    expect(all.find((p) => p.policy['policy-domain'] === 'dane.test')?.policy['policy-type']).toBe('tlsa');
    const human = await gateway.cli('tlsrpt');
    expect(human.stdout).toMatch(/strip\.test \(sts mx\.strip\.test\): 0 successful, \d+ failed\n\s+starttls-not-supported/);
    const day = new Date().toISOString().slice(0, 10);
    expect((await gateway.cli('tlsrpt', 'send', '--day', day)).stdout).toMatch(/strip\.test: queued to tlsrpt@reports\.test/);
    await until(() => box.messages().some((m) => m.raw.includes('TLS-Report-Domain: strip.test')), 15_000, 'TLS-RPT mail');
    const mail = box.messages().find((m) => m.raw.includes('TLS-Report-Domain: strip.test'))!.raw;
    expect(mail).toMatch(/report-type="tlsrpt"/);
    const base64 = /Content-Type: application\/tlsrpt\+gzip[\s\S]*?\r?\n\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n--/.exec(mail)![1];
    const json = JSON.parse(gunzipSync(Buffer.from(base64.replace(/\s/g, ''), 'base64')).toString());
    expect(json.policies[0].policy['policy-domain']).toBe('strip.test');
    expect((await gateway.cli('tlsrpt', 'send', '--day', day)).stdout).toMatch(/no reports due/); // sent once
  });

  async function firstShow(node: GatewayProcess): Promise<string> {
    const id = /^(\S+)/m.exec((await node.cli('queue', 'list', '--all')).stdout.split('\n').find((l) => /^q/.test(l)) ?? '')?.[1];
    return id ? (await node.cli('queue', 'show', id)).stdout : '';
  }
});
