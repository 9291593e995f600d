import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { queuedId, runSwaks } from '../../helpers/swaks.ts';

/*
 * Issue 12, anonymous submission, end to end: swaks submits from 127.0.0.5 with a distinctive
 * HELO name and mail program, the real gateway relays to a real Postfix (the smarthost of
 * anon.test), and the file Postfix delivered is searched for every trace of the client. The
 * admin's side (`queue show`, the audit trail) must still lead back to it.
 *   submissionTls: anonymous for every user (listeners.submissionTls.anonymous)
 *   submission:    anonymous only for carol (`sealgate user anonymous carol on`)
 */
const PASSWORD = 'correct horse battery staple';
const CLIENT_IP = '127.0.0.5';
const HELO = 'hidden-workstation.corp-anon.example';
const MAILER = 'Distinctive-Mailer/7.3.1';

describeWithPeers(['root', 'postfix', 'swaks'], 'anonymous submission with real peers', () => {
  const temp = tempDir('anonymous');
  let postfix: PostfixInstance;
  let gateway: GatewayProcess;

  const send = (user: string, port: number, tls: '-tls' | '-tlsc', subject: string) =>
    runSwaks([
      '--server', `127.0.0.1:${port}`, '--local-interface', CLIENT_IP, '--ehlo', HELO, tls,
      '--auth', 'PLAIN', '--auth-user', user, '--auth-password', PASSWORD,
      '--from', user, '--to', 'bob@anon.test',
      '--header', `Subject: ${subject}`, '--header', `X-Mailer: ${MAILER}`, '--header', `User-Agent: ${MAILER}`,
      '--header', `X-Originating-IP: [${CLIENT_IP}]`, '--header', `Message-ID: <4242.1@${HELO}>`,
      '--header', 'X-Extra-Trace: gone by config',
    ]);

  const delivered = async (subject: string) => {
    await until(() => postfix.messages().some((m) => m.raw.includes(`Subject: ${subject}`)), 30_000, `delivery of "${subject}"`);
    return postfix.messages().find((m) => m.raw.includes(`Subject: ${subject}`))!.raw;
  };

  const expectNoClientTrace = (raw: string) => {
    for (const trace of [CLIENT_IP, HELO, 'corp-anon', MAILER, 'Distinctive', 'carol', 'alice', 'X-Extra-Trace']) expect(raw, `"${trace}" in\n${raw}`).not.toContain(trace);
  };

  beforeAll(async () => {
    const port = await freePort('127.0.0.11');
    postfix = await startPostfix({ ip: '127.0.0.11', port, name: 'mx.anon.test', mode: 'accept', domains: ['anon.test'] });
    const submission = await freePort();
    const submissionTls = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      listeners: {
        inbound: { host: '127.0.0.1', port: await freePort() },
        submission: { host: '127.0.0.1', port: submission },
        submissionTls: { host: '127.0.0.1', port: submissionTls, anonymous: true },
      },
      anonymity: { stripHeaders: ['X-Extra-Trace'] },
      domains: { 'anon.test': { smarthost: `127.0.0.11:${port}` } },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 200 },
      pickup: { fallbackOnRequirement: false, whenNoTls: false },
    }, { cli: 'in-process' });
    // User names are the addresses they send as; the names must not reach the message either.
    for (const user of ['alice@users.test', 'carol@users.test']) {
      const added = await gateway.cli('user', 'add', user, '--password', PASSWORD);
      expect(added.code, added.stderr).toBe(0);
    }
    const anonymous = await gateway.cli('user', 'anonymous', 'carol@users.test', 'on');
    expect(anonymous.code, anonymous.stderr).toBe(0);
  });

  afterAll(async () => {
    await gateway?.kill();
    await postfix?.stop();
    temp.cleanup();
  });

  /** The From: header names the sender's address (what they chose to show); anything else of theirs goes. */
  const withoutFrom = (raw: string) => raw.replace(/^(From|Return-Path|X-Original-To|Delivered-To):.*\r?\n/gim, '').replace(/ for <bob@anon\.test>/g, '');

  it('an anonymous listener: the delivered file has no client address, HELO name, mailer or user; queue show and the audit trail keep the link', async () => {
    const sent = await send('alice@users.test', gateway.ports.submissionTls, '-tlsc', 'anonymous by listener');
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    const raw = await delivered('anonymous by listener');
    const ours = /^Received: from (anon-[0-9a-f]{16})\r?\n\tby gateway\.sealgate\.test \(Sealgate\)\r?\n\t\(using TLSv1\.[23] with cipher [^)]+\)\r?\n\twith ESMTPSA id (anon-[0-9a-f]{16})\r?\n\tfor <bob@anon\.test>;\r?\n\t\w{3}, /m.exec(raw);
    expect(ours, raw).not.toBeNull();
    expect(ours![2]).toBe(ours![1]);
    expect(raw).toMatch(/^Message-ID: <[A-Za-z0-9_-]+@gateway\.sealgate\.test>/m);
    expectNoClientTrace(withoutFrom(raw));
    expect(raw).not.toMatch(/^(X-Mailer|User-Agent|X-Originating-IP):/im);

    await until(async () => (await gateway.cli('queue', 'show', id)).stdout.includes('delivered'), 15_000, 'receipt');
    const shown = (await gateway.cli('queue', 'show', id)).stdout;
    expect(shown).toContain(`anonymous ${ours![1]} stands for client [${CLIENT_IP}] HELO ${HELO}, user alice@users.test`);
    const audit = JSON.parse((await gateway.cli('audit', 'list', '--action', 'message.submitted', '--target', id, '--json')).stdout) as { ip: string; actor: string; detail: { anonymous?: { pseudonym: string; helo: string } } }[];
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ ip: CLIENT_IP, actor: 'alice@users.test', detail: { anonymous: { pseudonym: ours![1], helo: HELO } } });
  });

  it('an anonymous user on an ordinary listener is anonymous; another user there gets the normal stamp', async () => {
    const carol = await send('carol@users.test', gateway.ports.submission, '-tls', 'anonymous by user');
    expect(carol.code, carol.stdout).toBe(0);
    const alice = await send('alice@users.test', gateway.ports.submission, '-tls', 'ordinary stamp');
    expect(alice.code, alice.stdout).toBe(0);

    const anonymous = await delivered('anonymous by user');
    expect(anonymous).toMatch(/^Received: from anon-[0-9a-f]{16}\r?\n\tby gateway\.sealgate\.test \(Sealgate\)/m);
    expectNoClientTrace(withoutFrom(anonymous));
    expect((await gateway.cli('queue', 'show', queuedId(carol.stdout))).stdout).toMatch(new RegExp(`anonymous anon-[0-9a-f]{16} stands for client \\[${CLIENT_IP.replace(/\./g, '\\.')}\\] HELO ${HELO.replace(/\./g, '\\.')}, user carol@users\\.test`));

    // The control: without anonymity every trace the test looks for is there, so the checks above can fail.
    const ordinary = await delivered('ordinary stamp');
    expect(ordinary).toMatch(new RegExp(`^Received: from ${HELO.replace(/\./g, '\\.')} \\(\\[${CLIENT_IP.replace(/\./g, '\\.')}\\]\\)`, 'm'));
    expect(ordinary).toContain('(authenticated as alice@users.test)');
    expect(ordinary).toContain(`X-Mailer: ${MAILER}`);
    expect(ordinary).toContain(`Message-ID: <4242.1@${HELO}>`);
    expect((await gateway.cli('queue', 'show', queuedId(alice.stdout))).stdout).not.toContain('anonymous');
  });
});
