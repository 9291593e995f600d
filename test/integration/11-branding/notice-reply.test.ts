import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir } from '../../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';
import { runSwaks, serverReplies, submitAs } from '../../helpers/swaks.ts';

/*
 * Replying to a real notice (issue 10 item 10): alice submits a `[secure]` message to
 * patient@home.test; the notice reaches home.test's MX (a recording SMTP server) from
 * branding.noticeFrom; the patient presses "Reply" (swaks to the gateway's inbound listener,
 * quoting the notice) and gets the explanation back from the null sender, Auto-Submitted:
 * auto-replied, In-Reply-To the notice, nothing of their mail repeated. A second reply the same
 * day, the null sender and auto-submitted mail get no answer. Before: 554 5.7.1 Relay access denied.
 */
const PASSWORD = 'correct horse battery staple';
const NOTICE_FROM = 'secure-mail@gateway.sealgate.test';

describeWithPeers(['swaks', 'dnsmasq'], 'a reply to a notice gets an explanation', () => {
  const temp = tempDir('notice-reply');
  let dns: DnsServer;
  let mx: RecordingSmtp;
  let gateway: GatewayProcess;
  const submit = submitAs(() => gateway.ports.submission, PASSWORD, 'alice@clinic.test');
  const toNoticeAddress = (from: string, extra: string[] = []) =>
    runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', from, '--to', NOTICE_FROM, ...extra]);

  /** Every mail the MX received, parsed, with its envelope. */
  async function received(): Promise<{ mailFrom: string; rcptTo: string[]; mail: ParsedMail; raw: string }[]> {
    return Promise.all(mx.transactions().map(async (t) => ({
      mailFrom: t.mailFrom.toString(), rcptTo: t.rcptTo.map(String), mail: await simpleParser(t.data), raw: t.data.toString(),
    })));
  }

  beforeAll(async () => {
    mx = await startRecordingSmtp({ host: '127.0.0.41' });
    dns = await startDns({ mx: [{ domain: 'home.test', host: 'mx.home.test', pref: 10 }], a: [{ name: 'mx.home.test', ip: '127.0.0.41' }] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: mx.port, connectTimeoutMs: 3000, ipFamilies: [4], mtaSts: { enabled: false }, defaultTlsPolicy: 'opportunistic' },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 100 },
      web: { port: await freePort(), publicUrl: 'https://portal.clinic.test' },
      branding: { organisation: 'St. Mary’s Clinic', contact: 'Questions? Call 030 1234 567.', noticeFrom: NOTICE_FROM },
    });
    expect((await gateway.cli('user', 'add', 'alice@clinic.test', '--password', PASSWORD)).code).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await mx?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('answers the patient who replies to the notice, once a day, and nobody automatic', async () => {
    const sent = await submit('patient@home.test', ['--header', 'Subject: [secure] Lab results', '--body', 'Creatinine 1.1 mg/dL.']);
    expect(sent.code, sent.stdout).toBe(0);
    await mx.until(1, 20_000);
    const [notice] = await received();
    expect(notice.rcptTo).toEqual(['<patient@home.test>']);
    expect(notice.mail.from?.value).toEqual([{ address: NOTICE_FROM, name: 'St. Mary’s Clinic' }]);
    expect(notice.mail.replyTo).toBeUndefined();
    expect(notice.mail.text).toContain('Questions? Call 030 1234 567.');
    const password = /^ {4}(\S+)$/m.exec(notice.mail.text ?? '')?.[1];
    expect(password).toBeTruthy();

    // "Reply" in a mail client: to the From address, quoting the notice with its password.
    const quoted = (notice.mail.text ?? '').split('\n').map((l) => `> ${l}`).join('\n');
    const replyBody = `Thank you, what does this mean for my medication?\n\n${quoted}`;
    const reply = await toNoticeAddress('patient@home.test', [
      '--header', 'Subject: Re: You have a secure message',
      '--header', `In-Reply-To: ${notice.mail.messageId}`,
      '--header', 'Message-Id: <reply-1@home.test>',
      '--body', replyBody,
    ]);
    expect(reply.code, reply.stdout).toBe(0);
    expect(serverReplies(reply.stdout)).toContain('250 2.0.0 Ok: nobody reads this address; the sender is told how to reply securely');
    await mx.until(2, 20_000);
    const answer = (await received())[1];
    expect(answer.mailFrom).toMatch(/^<>/);
    expect(answer.rcptTo).toEqual(['<patient@home.test>']);
    expect(answer.mail.headers.get('auto-submitted')).toBe('auto-replied');
    expect(answer.mail.inReplyTo).toBe('<reply-1@home.test>');
    expect(answer.mail.from?.value).toEqual([{ address: NOTICE_FROM, name: 'St. Mary’s Clinic' }]);
    expect(answer.mail.subject).toBe('Your e-mail was not delivered: this address only sends notices');
    expect(answer.mail.text?.replace(/\s+/g, ' ')).toContain('choose "Reply securely" below the message');
    expect(answer.mail.text).toContain('Questions? Call 030 1234 567.');
    // Nothing of the reply goes anywhere: not its words, not the password it quoted.
    for (const mail of await received()) expect(mail.raw).not.toContain('medication');
    expect(answer.raw).not.toContain(password!);

    // Once a day per sender; never to the null sender or to automatic mail.
    const again = await toNoticeAddress('patient@home.test', ['--header', 'Subject: Re: Re: You have a secure message', '--body', 'Hello?']);
    expect(serverReplies(again.stdout)).toContain('250 2.0.0 Ok: nobody reads this address; the mail was discarded');
    const bounce = await toNoticeAddress('<>', ['--header', 'Subject: Undelivered Mail Returned to Sender', '--body', 'bounce']);
    expect(serverReplies(bounce.stdout)).toContain('250 2.0.0 Ok: nobody reads this address; the mail was discarded');
    const vacation = await toNoticeAddress('nurse@home.test', ['--header', 'Auto-Submitted: auto-replied', '--header', 'Subject: Out of office', '--body', 'away']);
    expect(serverReplies(vacation.stdout)).toContain('250 2.0.0 Ok: nobody reads this address; the mail was discarded');
    // Another person is answered: the limit is per sender.
    const other = await toNoticeAddress('carer@home.test', ['--header', 'Subject: Re: You have a secure message', '--body', 'for my mother']);
    expect(serverReplies(other.stdout)).toContain('250 2.0.0 Ok: nobody reads this address; the sender is told how to reply securely');
    await mx.until(3, 20_000);
    // The queue polls every 100 ms: a wrongly queued answer to the three above would be here by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await received()).slice(2).map((m) => m.rcptTo)).toEqual([['<carer@home.test>']]);
  }, 90_000);

  it('takes the notice address only alone in a transaction, and still refuses relaying', async () => {
    const mixed = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'patient@home.test', '--to', `${NOTICE_FROM},someone@elsewhere.test`, '--body', 'x']);
    expect(serverReplies(mixed.stdout)).toContain('452 4.5.3 Send to the notice address in a transaction of its own');
    const relay = await runSwaks(['--server', `127.0.0.1:${gateway.ports.inbound}`, '--from', 'patient@home.test', '--to', 'other@gateway.sealgate.test', '--body', 'x']);
    expect(serverReplies(relay.stdout)).toContain('554 5.7.1 Relay access denied');
  }, 60_000);
});
