import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { signerSettings, startOpenDkim, type OpenDkimMilter } from '../../helpers/opendkim.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';
import { runSwaks } from '../../helpers/swaks.ts';
import { authResultsOf, dkimSignaturesOf, recordOfKeyFile, run, undotted } from './peers.ts';

/*
 * Issue 12: mail signed by the OpenDKIM filter (/usr/sbin/opendkim 2.11, not opendkim-testmsg,
 * which signs rsa-sha1 only: see dkim-peers.test.ts) verifies at Sealgate, RSA and Ed25519. A
 * Postfix relay runs two OpenDKIM signers as milters for opendkim.test (a signer's
 * SignatureAlgorithm is for all its keys): rsa-sha256 simple/simple (OpenDKIM's default) with an
 * opendkim-genkey RSA-2048 key, ed25519-sha256 relaxed/relaxed with an Ed25519 key (RFC 8463),
 * so each canonicalization is met. It relays to Sealgate's MX listener (verifyInbound) and a
 * copy to a capture server. SPF never passes for the relay, so DMARC can pass only on an
 * aligned DKIM signature. The captured copy is then sent to Sealgate again as it is (both
 * pass), one body byte altered and one signed header byte altered (both fail each time).
 */
const HOST = 'gateway.opendkim-milter.test';
const RELAY_IP = '127.0.0.51';
const CAPTURE_IP = '127.0.0.52';
const DOMAIN = 'opendkim.test';
const SENDER = `news@${DOMAIN}`;

describeWithPeers(['root', 'postfix', 'opendkim', 'opendkim-genkey', 'swaks', 'dnsmasq'], 'mail signed by the OpenDKIM milter behind Postfix verifies at Sealgate', () => {
  const temp = tempDir('opendkim-milter');
  let dns: DnsServer;
  let mailbox: RecordingSmtp;
  let capture: RecordingSmtp;
  let gateway: GatewayProcess;
  let signers: OpenDkimMilter[] = [];
  let relay: PostfixInstance;

  const message = [
    `From: News <${SENDER}>`,
    'To: Bob <bob@corp.test>',
    'Subject: signed by the OpenDKIM milter',
    'Date: Fri, 04 Dec 2026 12:00:00 +0000',
    `Message-ID: <milter@${DOMAIN}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Hello Bob,',
    '',
    'Line one.',
    // Dot-stuffed on every hop; the trailing spaces count for simple body canonicalization.
    '.A line that starts with a dot.',
    'Line three, with two trailing spaces.  ',
    '',
  ].join('\r\n');

  /** Sends `data` straight to Sealgate's MX listener (from 127.0.0.1, not the relay). */
  const sendToGateway = (name: string, data: string) => {
    const file = path.join(temp.dir, `${name}.eml`);
    writeFileSync(file, data, 'latin1');
    return runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', SENDER, '--to', 'bob@corp.test', '--data', file]);
  };
  const relayedText = (index: number) => undotted(mailbox.transactions()[index]!.data).toString('latin1');
  const dkimOf = (text: string) =>
    authResultsOf(text, HOST)
      .filter((r) => r.method === 'dkim')
      .map((r) => ({ result: r.result, identity: r.props['header.i'], selector: r.props['header.s'], algorithm: r.props['header.a'] }))
      .sort((a, b) => String(a.algorithm).localeCompare(String(b.algorithm)));
  const resultOf = (text: string, method: string) => authResultsOf(text, HOST).filter((r) => r.method === method);

  beforeAll(async () => {
    const keys = path.join(temp.dir, 'keys');
    mkdirSync(keys);
    const genkey = run('opendkim-genkey', ['-b', '2048', '-d', DOMAIN, '-s', 'rsa', '-D', keys]);
    expect(genkey.status, genkey.stderr).toBe(0);
    // OpenDKIM reads an Ed25519 key as PKCS#8 PEM; the record's p= is the raw 32-byte public
    // key (RFC 8463 §4.2), the end of its SubjectPublicKeyInfo.
    const ed = generateKeyPairSync('ed25519');
    writeFileSync(path.join(keys, 'ed.private'), ed.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const edPublic = ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');

    mailbox = await startRecordingSmtp();
    capture = await startRecordingSmtp({ host: CAPTURE_IP });
    dns = await startDns({
      txt: [
        { name: `rsa._domainkey.${DOMAIN}`, text: recordOfKeyFile(path.join(keys, 'rsa.txt')) },
        { name: `ed._domainkey.${DOMAIN}`, text: `v=DKIM1; k=ed25519; p=${edPublic}` },
        { name: DOMAIN, text: 'v=spf1 ip4:192.0.2.1 -all' },
        // quarantine: a failing copy is delivered, flagged, with its verdict to read.
        { name: `_dmarc.${DOMAIN}`, text: 'v=DMARC1; p=quarantine' },
      ],
    });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      hostname: HOST,
      domains: { 'corp.test': { smarthost: `127.0.0.1:${mailbox.port}`, recipients: ['bob'] } },
      auth: { verifyInbound: true, dnsServers: dns.servers },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 100 },
    });

    // Every loopback client is internal to the signers: they sign what the relay accepts.
    // Ed25519 with simple header canonicalization is not tried: OpenDKIM 2.11.0~beta2 (Debian
    // 12) then writes signatures that neither Sealgate nor dkimpy accept (the same key with
    // relaxed headers verifies at both).
    const common = { InternalHosts: '127.0.0.0/8', AuthservID: 'relay.opendkim.test' };
    signers = [
      await startOpenDkim(temp.dir, 'rsa', { ...common, ...signerSettings(temp.dir, 'rsa', DOMAIN, 'rsa', path.join(keys, 'rsa.private')), Canonicalization: 'simple/simple' }),
      await startOpenDkim(temp.dir, 'ed', { ...common, ...signerSettings(temp.dir, 'ed', DOMAIN, 'ed', path.join(keys, 'ed.private')), SignatureAlgorithm: 'ed25519-sha256', Canonicalization: 'relaxed/relaxed' }),
    ];
    relay = await startPostfix({
      ip: RELAY_IP,
      port: await freePort(RELAY_IP),
      name: 'relay.opendkim.test',
      mode: 'accept',
      domains: [],
      mainCf: {
        relay_domains: 'corp.test capture.test',
        transport_maps: `inline:{corp.test=smtp:[127.0.0.1]:${gateway.ports.inbound}, capture.test=smtp:[${CAPTURE_IP}]:${capture.port}}`,
        smtp_bind_address: RELAY_IP,
        smtpd_milters: signers.map((s) => s.milter).join(', '),
        // A milter that fails must not let the mail through unsigned: it would prove nothing.
        milter_default_action: 'tempfail',
        queue_run_delay: '1s',
        minimal_backoff_time: '1s',
        maximal_backoff_time: '2s',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await relay?.stop();
    // Each takes a few seconds to exit after SIGTERM: together.
    await Promise.all(signers.map((signer) => signer.stop()));
    await gateway?.kill();
    await mailbox?.stop();
    await capture?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  const logs = () => `${relay.log().slice(-2000)}\n${signers.map((s) => s.output()).join('\n')}`;

  it('relays mail OpenDKIM signed rsa-sha256 and ed25519-sha256; Sealgate passes both and DMARC on them', async () => {
    writeFileSync(path.join(temp.dir, 'plain.eml'), message);
    const sent = await runSwaks(['--server', `${RELAY_IP}:${relay.port}`, '--from', SENDER, '--to', 'bob@corp.test,copy@capture.test', '--data', path.join(temp.dir, 'plain.eml')]);
    expect(sent.code, `${sent.stdout}\n${logs()}`).toBe(0);
    await capture.until(1, 30_000).catch((error: Error) => Promise.reject(new Error(`${error.message}\n${logs()}`)));
    await mailbox.until(1, 30_000).catch((error: Error) => Promise.reject(new Error(`${error.message}\n${logs()}\n${gateway.output().slice(-2000)}`)));

    // What OpenDKIM wrote, as it left the relay.
    const signed = undotted(capture.transactions()[0]!.data).toString('latin1');
    expect(dkimSignaturesOf(signed).map((s) => ({ a: s.a, d: s.d, s: s.s, c: s.c ?? 'simple/simple' })).sort((x, y) => x.a!.localeCompare(y.a!))).toEqual([
      { a: 'ed25519-sha256', d: DOMAIN, s: 'ed', c: 'relaxed/relaxed' },
      { a: 'rsa-sha256', d: DOMAIN, s: 'rsa', c: 'simple/simple' },
    ]);

    const relayed = relayedText(0);
    expect(relayed).toMatch(new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, '\\.')};`));
    expect(dkimOf(relayed), relayed.slice(0, 3000)).toEqual([
      { result: 'pass', identity: `@${DOMAIN}`, selector: 'ed', algorithm: 'ed25519-sha256' },
      { result: 'pass', identity: `@${DOMAIN}`, selector: 'rsa', algorithm: 'rsa-sha256' },
    ]);
    // SPF fails for the relay: the DMARC pass rests on the DKIM signatures alone.
    expect(resultOf(relayed, 'spf').map((r) => [r.result, r.props['smtp.mailfrom']])).toEqual([['fail', SENDER]]);
    expect(resultOf(relayed, 'dmarc').map((r) => [r.result, r.props['header.from']])).toEqual([['pass', DOMAIN]]);
    expect(relayed).not.toMatch(/^Sealgate-Quarantine:/m);
  }, 90_000);

  it('passes the signed copy sent again as it is, fails both signatures once a body or a signed header byte changes', async () => {
    const signed = undotted(capture.transactions()[0]!.data).toString('latin1');
    expect(signed).toContain('\r\nLine one.\r\n');
    expect(signed).toMatch(/^Subject: signed by the OpenDKIM milter\r$/m);
    const copies = {
      unaltered: signed,
      body: signed.replace('\r\nLine one.\r\n', '\r\nLine One.\r\n'),
      header: signed.replace(/^Subject: signed by the OpenDKIM milter\r$/m, 'Subject: Signed by the OpenDKIM milter\r'),
    };
    const before = mailbox.transactions().length;
    for (const [name, data] of Object.entries(copies)) {
      const sent = await sendToGateway(name, data);
      expect(sent.code, `${name}: ${sent.stdout}`).toBe(0);
    }
    await mailbox.until(before + 3, 30_000);
    const [unaltered, body, header] = [0, 1, 2].map((i) => relayedText(before + i));
    for (const [name, text] of [['unaltered', unaltered], ['body', body], ['header', header]] as const) expect(text, name).toContain(`Message-ID: <milter@${DOMAIN}>`);
    expect(unaltered).toContain('\r\nLine one.\r\n');
    expect(body).toContain('\r\nLine One.\r\n');
    expect(header).toContain('Subject: Signed by');

    const both = (result: string) => [
      { result, identity: `@${DOMAIN}`, selector: 'ed', algorithm: 'ed25519-sha256' },
      { result, identity: `@${DOMAIN}`, selector: 'rsa', algorithm: 'rsa-sha256' },
    ];
    expect(dkimOf(unaltered), unaltered.slice(0, 3000)).toEqual(both('pass'));
    expect(resultOf(unaltered, 'dmarc').map((r) => r.result)).toEqual(['pass']);
    // RFC 6376 §6.1.3: a body hash that does not match is a PERMFAIL, RFC 8601 §2.7.1 "fail".
    expect(dkimOf(body), body.slice(0, 3000)).toEqual(both('fail'));
    expect(dkimOf(header), header.slice(0, 3000)).toEqual(both('fail'));
    for (const [name, text] of [['body', body], ['header', header]] as const) {
      expect(resultOf(text, 'dmarc').map((r) => r.result), name).toEqual(['fail']);
      expect(text, name).toMatch(new RegExp(`^Sealgate-Quarantine: yes; DMARC fail for ${DOMAIN.replace(/\./g, '\\.')}`, 'm'));
    }
  }, 90_000);
});
