import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { tempDir } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';
import { runSwaks, serverReplies, submitAs } from '../../helpers/swaks.ts';
import { keepSignature, PEER_DNS_HOST, recordOfKeyFile, run, runWithTestDns, undotted } from './peers.ts';

/*
 * Issue 12, DKIM/SPF/DMARC with real peers. Inbound (auth.verifyInbound on): mail signed by
 * dkimpy (dkimsign, Ed25519) verifies at Sealgate; the command-line signer opendkim-testmsg
 * (Debian 12) signs only rsa-sha1, which RFC 8301 makes invalid, so its mail gets dkim=policy
 * (the OpenDKIM filter, rsa-sha256 and ed25519-sha256 through a Postfix relay, passes:
 * opendkim-milter.test.ts); each is relayed to the mailbox server with our
 * Authentication-Results; SPF and DMARC records come from dnsmasq; a forged From: under
 * p=reject gets 550 at the end of DATA, p=quarantine is flagged, a forged "dkim=pass" claiming
 * our host is gone. Outbound: `sealgate domain dkim` makes the keys, the records it prints are
 * served by dnsmasq, and what reaches the MX verifies with opendkim-testmsg and dkimpy's
 * dkimverify, the RSA and the Ed25519 signature each alone. Once the gateway's own domain has
 * keys, what it relays to the mailbox server is ARC-sealed with them, and dkimpy's arcverify
 * accepts the chain.
 */
const PASSWORD = 'correct horse battery staple';
const HOST = 'gateway.sealgate.test';

describeWithPeers(['root', 'swaks', 'dnsmasq', 'unshare', 'opendkim-genkey', 'opendkim-testmsg', 'dkimsign', 'dkimverify', 'dknewkey'], 'DKIM, SPF and DMARC against OpenDKIM and dkimpy', () => {
  const temp = tempDir('auth-peers');
  let dns: DnsServer;
  let peerDns: DnsServer | undefined;
  let mailbox: RecordingSmtp;
  let mx: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD, 'alice@sender.test');
  const keys = path.join(temp.dir, 'keys');

  const message = (from: string, subject: string, extra = '') =>
    `From: Someone <${from}>\nTo: bob@corp.test\nSubject: ${subject}\nDate: Wed, 02 Dec 2026 12:00:00 +0000\nMessage-ID: <${subject.replace(/\W/g, '')}@peers.test>\n${extra}\nHello Bob,\nthis is ${subject}.\n`;

  const sendInbound = (from: string, file: string) => runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', from, '--to', 'bob@corp.test', '--data', file]);

  beforeAll(async () => {
    run('mkdir', ['-p', keys]);
    expect(run('opendkim-genkey', ['-d', 'odk.test', '-s', 'od', '-D', keys]).status).toBe(0);
    expect(run('dknewkey', ['--ktype', 'ed25519', path.join(keys, 'ed')]).status).toBe(0);
    mailbox = await startRecordingSmtp();
    mx = await startRecordingSmtp({ host: '127.0.0.43' });
    dns = await startDns({
      txt: [
        { name: 'od._domainkey.odk.test', text: recordOfKeyFile(path.join(keys, 'od.txt')) },
        { name: 'ed._domainkey.edk.test', text: readFileSync(path.join(keys, 'ed.dns'), 'utf8').trim() },
        // SPF never passes for these senders from 127.0.0.1: DMARC rests on DKIM alone.
        ...['odk.test', 'edk.test', 'reject.test', 'quarantine.test', 'report.test'].map((d) => ({ name: d, text: 'v=spf1 ip4:192.0.2.1 -all' })),
        { name: '_dmarc.odk.test', text: 'v=DMARC1; p=none' },
        { name: '_dmarc.edk.test', text: 'v=DMARC1; p=reject' },
        { name: '_dmarc.reject.test', text: 'v=DMARC1; p=reject' },
        { name: '_dmarc.quarantine.test', text: 'v=DMARC1; p=quarantine' },
        { name: '_dmarc.report.test', text: 'v=DMARC1; p=reject' },
      ],
    });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      hostname: HOST,
      domains: { 'corp.test': { smarthost: `127.0.0.1:${mailbox.port}`, recipients: ['bob'] }, 'corp-report.test': { smarthost: `127.0.0.1:${mailbox.port}`, recipients: ['bob'] } },
      auth: { verifyInbound: true, dnsServers: dns.servers, dmarc: { domains: { 'corp-report.test': 'report' } }, arcSealDomain: HOST },
      // Outbound DNS is the peers' server, started once our keys exist.
      delivery: { dnsServers: [`${PEER_DNS_HOST}:53`], port: mx.port, connectTimeoutMs: 3000, ipFamilies: [4], mtaSts: { enabled: false }, defaultTlsPolicy: 'opportunistic' },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 100 },
      pickup: { whenNoTls: false },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await gateway?.kill();
    await mailbox?.stop();
    await mx?.stop();
    await dns?.stop();
    await peerDns?.stop();
    temp.cleanup();
  });

  const relayed = () => mailbox.transactions().map((t) => undotted(t.data).toString('latin1'));

  it('verifies mail signed by dkimpy (Ed25519), judges OpenDKIM rsa-sha1 as policy, and relays both with our verdict', async () => {
    const plainOd = path.join(temp.dir, 'od.eml');
    writeFileSync(plainOd, message('news@odk.test', 'signed by OpenDKIM'));
    const signedOd = run('opendkim-testmsg', ['-d', 'odk.test', '-s', 'od', '-k', path.join(keys, 'od.private')], readFileSync(plainOd));
    expect(signedOd.status, signedOd.stderr).toBe(0);
    expect(signedOd.stdout).toMatch(/^DKIM-Signature:/m);
    writeFileSync(plainOd, signedOd.stdout);
    const od = await sendInbound('news@odk.test', plainOd);
    expect(od.code, od.stdout).toBe(0);

    const plainEd = path.join(temp.dir, 'ed.eml');
    const signedEd = run('dkimsign', ['--signalg', 'ed25519-sha256', 'ed', 'edk.test', path.join(keys, 'ed.key')], message('news@edk.test', 'signed by dkimpy'));
    expect(signedEd.status, signedEd.stderr).toBe(0);
    writeFileSync(plainEd, signedEd.stdout);
    const ed = await sendInbound('news@edk.test', plainEd);
    expect(ed.code, ed.stdout).toBe(0);

    await mailbox.until(2, 20_000);
    const [first, second] = relayed();
    expect(first).toMatch(new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, '\\.')};`));
    // opendkim-testmsg 2.11.0~beta2 (Debian 12) signs rsa-sha1 only: RFC 8301 §3.1 says such a
    // signature is not valid, so the verdict is policy and DMARC (p=none here) fails.
    expect(first).toMatch(/dkim=policy[^;]*header\.[di]=@?odk\.test/);
    expect(first).toMatch(/dmarc=fail/);
    expect(first).toMatch(/spf=fail/);
    expect(second).toMatch(new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, '\\.')};`));
    expect(second).toMatch(/dkim=pass[^;]*header\.[di]=@?edk\.test[^;]*header\.a=ed25519-sha256/);
    expect(second).toMatch(/dmarc=pass/);
  }, 60_000);

  it('refuses a forged From: under p=reject at the end of DATA, flags p=quarantine, records report-only', async () => {
    const forged = path.join(temp.dir, 'forged.eml');
    writeFileSync(forged, message('ceo@reject.test', 'forged under reject'));
    const before = mailbox.transactions().length;
    const refused = await sendInbound('ceo@reject.test', forged);
    const replies = serverReplies(refused.stdout);
    expect(replies.at(-2) ?? replies.at(-1)).toMatch(/^550 5\.7\.1 .*DMARC fail for reject\.test.*policy reject/);
    expect(refused.stdout).toContain('354');

    writeFileSync(forged, message('ceo@quarantine.test', 'forged under quarantine'));
    expect((await sendInbound('ceo@quarantine.test', forged)).code).toBe(0);
    writeFileSync(forged, message('ceo@report.test', 'forged to a report-only domain').replace('bob@corp.test', 'bob@corp-report.test'));
    const report = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'ceo@report.test', '--to', 'bob@corp-report.test', '--data', forged]);
    expect(report.code, report.stdout).toBe(0);
    await mailbox.until(before + 2, 20_000);
    const [quarantined, reported] = relayed().slice(before);
    expect(quarantined).toMatch(/^Sealgate-Quarantine: yes; DMARC fail for quarantine\.test/m);
    expect(quarantined).toMatch(/dmarc=fail/);
    expect(reported).not.toMatch(/Sealgate-Quarantine/);
    expect(reported).toMatch(/dmarc=fail/);
  }, 60_000);

  it('removes an arriving Authentication-Results that claims our host, keeps a foreign one', async () => {
    const forged = path.join(temp.dir, 'forged-ar.eml');
    writeFileSync(forged, message('ceo@quarantine.test', 'claims our verdict', `Authentication-Results: ${HOST.toUpperCase()}; dkim=pass header.d=quarantine.test; dmarc=pass\nAuthentication-Results: mx.elsewhere.test; spf=pass\n`));
    const before = mailbox.transactions().length;
    expect((await sendInbound('ceo@quarantine.test', forged)).code).toBe(0);
    await mailbox.until(before + 1, 20_000);
    const [got] = relayed().slice(before);
    const ours = got.match(new RegExp(`^Authentication-Results:\\s*${HOST.replace(/\./g, '\\.')}`, 'gim')) ?? [];
    expect(ours).toHaveLength(1);
    expect(got).not.toMatch(/dmarc=pass/);
    expect(got).toContain('Authentication-Results: mx.elsewhere.test; spf=pass');
  }, 60_000);

  it('signs outbound mail and pickup notices with Ed25519 and RSA; OpenDKIM and dkimpy verify each signature', async () => {
    const records: { name: string; algorithm: string; record: string }[] = [];
    for (const domain of ['sender.test', HOST]) {
      const made = await gateway.cli('domain', 'dkim', domain, '--json');
      expect(made.code, made.stderr).toBe(0);
      const { keys: ours } = JSON.parse(made.stdout) as { keys: { name: string; algorithm: string; record: string }[] };
      expect(ours.map((k) => k.algorithm).sort()).toEqual(['ed25519', 'rsa']);
      records.push(...ours);
    }
    peerDns = await startDns(
      { mx: [{ domain: 'home.test', host: 'mx.home.test', pref: 10 }], a: [{ name: 'mx.home.test', ip: '127.0.0.43' }], txt: records.map((k) => ({ name: k.name, text: k.record })) },
      { host: PEER_DNS_HOST, port: 53 },
    );
    const check = await gateway.cli('domain', 'check', 'sender.test');
    expect(check.stdout.match(/DKIM (ed25519|rsa) \S+: published, matches the key in use/g), check.stdout).toHaveLength(2);

    // A plain message (the MX offers no TLS: pickup.whenNoTls is off here) and a [secure] one,
    // whose pickup notice comes from the gateway's own domain.
    const sent = await submit('patient@home.test', ['--header', 'Subject: signed by Sealgate', '--body', 'Line one.\n.leading dot\nLine three.']);
    expect(sent.code, sent.stdout).toBe(0);
    const secure = await submit('patient@home.test', ['--header', 'Subject: [secure] results', '--body', 'Private.']);
    expect(secure.code, secure.stdout).toBe(0);
    await mx.until(2, 30_000);
    const delivered = mx.transactions().map((t) => undotted(t.data));
    const plain = delivered.find((d) => /^From: alice@sender\.test/m.test(d.toString('latin1')));
    const notice = delivered.find((d) => /^From: .*notices@gateway\.sealgate\.test/m.test(d.toString('latin1')));
    expect(plain && notice, delivered.map((d) => d.toString('latin1').slice(0, 400)).join('\n---\n')).toBeTruthy();
    for (const [what, message] of [['message', plain!], ['pickup notice', notice!]] as const) {
      expect(message.toString('latin1').match(/^DKIM-Signature:/gim)?.length, what).toBe(2);
      for (const algorithm of ['ed25519-sha256', 'rsa-sha256']) {
        const alone = keepSignature(message, algorithm);
        expect(alone.toString('latin1').match(/^DKIM-Signature:/gim)).toHaveLength(1);
        const dkimpy = runWithTestDns(temp.dir, 'dkimverify', [], alone);
        expect(dkimpy.stdout.trim(), `${what} ${algorithm}: ${dkimpy.stderr}`).toBe('signature ok');
        const opendkim = runWithTestDns(temp.dir, 'opendkim-testmsg', [], alone);
        expect({ what, algorithm, status: opendkim.status, stderr: opendkim.stderr.trim() }).toEqual({ what, algorithm, status: 0, stderr: '' });
      }
    }
    // Tampering is noticed: one body byte changed fails at dkimpy and at OpenDKIM.
    const tampered = Buffer.from(keepSignature(plain!, 'rsa-sha256').toString('latin1').replace('Line three.', 'Line 3.'), 'latin1');
    expect(runWithTestDns(temp.dir, 'dkimverify', [], tampered).stdout).not.toContain('signature ok');
    expect(runWithTestDns(temp.dir, 'opendkim-testmsg', [], tampered).status).not.toBe(0);

    // After --rotate the published records no longer match the keys in use.
    expect((await gateway.cli('domain', 'dkim', 'sender.test', '--rotate')).code).toBe(0);
    const stale = await gateway.cli('domain', 'check', 'sender.test');
    expect(stale.stdout.match(/NOT published/g), stale.stdout).toHaveLength(2);
  }, 240_000);
  it('ARC-seals what it relays once its domain has keys; dkimpy arcverify accepts the chain', async () => {
    // Runs after the test above made the keys of HOST (and started the peers' DNS with them).
    expect(peerDns).toBeDefined();
    const file = path.join(temp.dir, 'arc.eml');
    const signed = run('dkimsign', ['--signalg', 'ed25519-sha256', 'ed', 'edk.test', path.join(keys, 'ed.key')], message('news@edk.test', 'sealed on relay'));
    writeFileSync(file, signed.stdout);
    // The gateway looks for a seal key again a few seconds after finding none.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const before = mailbox.transactions().length;
    expect((await sendInbound('news@edk.test', file)).code).toBe(0);
    await mailbox.until(before + 1, 20_000);
    const got = undotted(mailbox.transactions()[before].data);
    const text = got.toString('latin1');
    expect(text).toMatch(/^ARC-Seal: i=1; a=rsa-sha256;[^]*?cv=none/m);
    expect(text).toMatch(new RegExp(`^ARC-Authentication-Results: i=1; ${HOST.replace(/\./g, '\\.')};`, 'm'));
    const arc = runWithTestDns(temp.dir, 'arcverify', [], got);
    expect(arc.stdout + arc.stderr, text.slice(0, 3000)).toMatch(/cv=b?'?pass'? success/);
  }, 60_000);
});
