import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../../../test/helpers/raw-smtp.ts';
import type { Envelope, LinkRequirement } from '../../kernel/index.ts';
import { createSmtpListener, type ListenerLimits, type SmtpListener } from './index.ts';
import { silentLogger as silent } from '../../../test/helpers/silent-logger.ts';


function makeCert(): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-smtp-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=mx.sealgate.test', '-addext', 'subjectAltName=DNS:mx.sealgate.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
}

const limits: ListenerLimits = {
  maxMessageBytes: 200_000,
  maxRecipients: 5,
  maxCommandLineBytes: 512,
  maxTextLineBytes: 1000,
  maxReceivedHeaders: 50,
  maxConnectionsPerIp: 30,
  maxCommandsPerMinute: 200,
  idleTimeoutMs: 30_000,
  sessionTimeoutMs: 60_000,
  maxAuthFailures: 3,
  maxUnauthenticatedCommands: 20,
  greetingDelayMs: 0,
};

interface Ingested {
  envelope: Envelope;
  body: string;
}

async function readAll(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('latin1');
}

describe('SMTP listeners', () => {
  const ingested: Ingested[] = [];
  const standing: { alice?: LinkRequirement; pickup?: boolean } = {};
  const deps = {
    logger: silent,
    clock: { now: () => Date.now() },
    login: async (user: string, password: string) => ({ status: user === 'alice@sender.test' && password === 'correct horse battery' ? 'ok' as const : 'invalid' as const }),
    standingOf: async (user: string) => (user === 'alice@sender.test' ? { requiredLevel: standing.alice, pickupAlways: standing.pickup } : {}),
    ingest: async (envelope: Envelope, body: Readable) => {
      const text = await readAll(body);
      ingested.push({ envelope, body: text });
      return { id: `q${ingested.length}` };
    },
  };
  let submission: SmtpListener;
  let implicit: SmtpListener;
  let inbound: SmtpListener;
  let tight: SmtpListener;
  let rated: SmtpListener;
  const plain = { auth: Buffer.from('\0alice@sender.test\0correct horse battery').toString('base64') };

  beforeAll(async () => {
    const tlsPair = makeCert();
    const base = { host: '127.0.0.1', port: 0, tls: tlsPair, hostname: 'mx.sealgate.test', localDomains: ['clinic.test'], limits };
    submission = createSmtpListener({ ...base, role: 'submission', implicitTls: false }, deps);
    implicit = createSmtpListener({ ...base, role: 'submission', implicitTls: true }, deps);
    inbound = createSmtpListener({ ...base, role: 'inbound', implicitTls: false }, deps);
    tight = createSmtpListener({ ...base, role: 'inbound', implicitTls: false, limits: { ...limits, maxConnectionsPerIp: 2 } }, deps);
    rated = createSmtpListener({ ...base, role: 'inbound', implicitTls: false, limits: { ...limits, maxCommandsPerMinute: 10 } }, deps);
    for (const l of [submission, implicit, inbound, tight, rated]) await l.start();
  });

  afterAll(async () => {
    for (const l of [submission, implicit, inbound, tight, rated]) await l?.stop();
  });

  async function authenticated(): Promise<RawSmtp> {
    const c = await RawSmtp.connect(submission.address().port);
    await c.command('EHLO client.test');
    await c.startTls();
    await c.command('EHLO client.test');
    expect(await c.command(`AUTH PLAIN ${plain.auth}`)).toMatch(/^235 /);
    return c;
  }

  it('refuses AUTH before TLS with 538 5.7.11', async () => {
    const c = await RawSmtp.connect(submission.address().port);
    const ehlo = await c.command('EHLO client.test');
    expect(ehlo).toContain('STARTTLS');
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await c.command(`AUTH PLAIN ${plain.auth}`)).toMatch(/^538 5\.7\.11 /);
    expect(await c.command('MAIL FROM:<alice@sender.test>')).toMatch(/^530 5\.7\.0/);
    c.close();
  });

  it('accepts a submission over STARTTLS+AUTH, adds trace, Message-ID and Date', async () => {
    const c = await authenticated();
    const ehlo = await c.command('EHLO client.test');
    for (const ext of ['SIZE 200000', '8BITMIME', 'SMTPUTF8', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'DSN', 'REQUIRETLS']) expect(ehlo).toContain(ext);
    expect(await c.command('MAIL FROM:<alice@sender.test> BODY=8BITMIME RET=HDRS ENVID=env1 REQUIRETLS')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<bob@elsewhere.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@elsewhere.test')).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write('Subject: hello\r\n\r\nbody line\r\n.\r\n');
    expect(await c.reply()).toMatch(/^250 2\.0\.0 Ok: queued as q\d+/);
    const last = ingested.at(-1)!;
    expect(last.envelope).toMatchObject({ mailFrom: 'alice@sender.test', requireTls: true, bodyType: '8BITMIME', dsnRet: 'HDRS', dsnEnvid: 'env1', authUser: 'alice@sender.test' });
    expect(last.envelope.recipients[0]).toMatchObject({ address: 'bob@elsewhere.test', notify: ['FAILURE', 'DELAY'] });
    expect(last.body).toMatch(/^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.sealgate\.test \(Sealgate\)\r\n\t\(using TLSv1\.3 with cipher TLS_\w+\)\r\n\twith ESMTPSA/);
    expect(last.body).toMatch(/\r\nMessage-ID: <[^>]+@mx\.sealgate\.test>\r\n/);
    expect(last.body).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} /);
    expect(last.body.endsWith('Subject: hello\r\n\r\nbody line\r\n')).toBe(true);
    c.close();
  });

  it('takes a sender link requirement from Sealgate-Require and strips the header', async () => {
    const c = await authenticated();
    await c.command('MAIL FROM:<alice@sender.test>');
    await c.command('RCPT TO:<bob@elsewhere.test>');
    await c.command('DATA');
    c.write('Subject: needs a verified link\r\nSealgate-Require:\r\n\ttls-verified\r\nTo: bob@elsewhere.test\r\n\r\nbody\r\n.\r\n');
    expect(await c.reply()).toMatch(/^250 /);
    const last = ingested.at(-1)!;
    expect(last.envelope.requiredLevel).toBe('tls-verified');
    expect(last.body).not.toMatch(/Sealgate-Require|\ttls-verified/i);
    expect(last.body).toContain('Subject: needs a verified link\r\nTo: bob@elsewhere.test\r\n\r\nbody');
    await c.command('MAIL FROM:<alice@sender.test>');
    await c.command('RCPT TO:<bob@elsewhere.test>');
    await c.command('DATA');
    c.write('Subject: x\r\nSealgate-Require: carrier-pigeon\r\n\r\nbody\r\n.\r\n');
    expect(await c.reply()).toMatch(/^550 5\.7\.10 Sealgate-Require: unknown level/);
    c.close();
  });

  it('applies a user\'s standing requirement; a header may raise it, never lower it', async () => {
    standing.alice = 'tls';
    try {
      const c = await authenticated();
      for (const header of ['', 'Sealgate-Require: none\r\n', 'Sealgate-Require: dane\r\n']) {
        await c.command('MAIL FROM:<alice@sender.test>');
        await c.command('RCPT TO:<bob@elsewhere.test>');
        await c.command('DATA');
        c.write(`Subject: standing\r\n${header}\r\nbody\r\n.\r\n`);
        expect(await c.reply()).toMatch(/^250 /);
      }
      expect(ingested.slice(-3).map((i) => i.envelope.requiredLevel)).toEqual(['tls', 'tls', 'dane']);
      c.close();
    } finally {
      standing.alice = undefined;
    }
  });

  it('makes every message of an always-pickup user a pickup, and others not', async () => {
    for (const always of [true, false]) {
      standing.pickup = always;
      const c = await authenticated();
      await c.command('MAIL FROM:<alice@sender.test>');
      await c.command('RCPT TO:<bob@elsewhere.test>');
      await c.command('DATA');
      c.write('Subject: plain subject\r\n\r\nbody\r\n.\r\n');
      expect(await c.reply()).toMatch(/^250 /);
      expect(ingested.at(-1)!.envelope.pickup).toBe(always ? true : undefined);
      c.close();
    }
    standing.pickup = undefined;
  });

  it('keeps TLS-Required: No (RFC 8689 §5) as a flag and the header in the message', async () => {
    const c = await RawSmtp.connect(inbound.address().port);
    await c.command('EHLO mta.test');
    await c.command('MAIL FROM:<a@remote.test>');
    await c.command('RCPT TO:<doctor@clinic.test>');
    await c.command('DATA');
    c.write('Subject: x\r\nTLS-Required: No\r\n\r\nbody\r\n.\r\n');
    expect(await c.reply()).toMatch(/^250 /);
    expect(ingested.at(-1)!.envelope.tlsOptional).toBe(true);
    expect(ingested.at(-1)!.body).toContain('TLS-Required: No');
    c.close();
  });

  it('does not let inbound mail set a link requirement', async () => {
    const c = await RawSmtp.connect(inbound.address().port);
    await c.command('EHLO mta.test');
    await c.command('MAIL FROM:<a@remote.test>');
    await c.command('RCPT TO:<doctor@clinic.test>');
    await c.command('DATA');
    c.write('Subject: x\r\nSealgate-Require: tls-verified\r\n\r\nbody\r\n.\r\n');
    expect(await c.reply()).toMatch(/^250 /);
    expect(ingested.at(-1)!.envelope.requiredLevel).toBeUndefined();
    c.close();
  });

  it('closes after three failed AUTHs with 421 4.7.0', async () => {
    const c = await RawSmtp.connect(implicit.address().port, { implicitTls: true });
    await c.command('EHLO client.test');
    const bad = Buffer.from('\0alice@sender.test\0wrong').toString('base64');
    expect(await c.command(`AUTH PLAIN ${bad}`)).toMatch(/^535 5\.7\.8/);
    expect(await c.command(`AUTH PLAIN ${bad}`)).toMatch(/^535 5\.7\.8/);
    expect(await c.command(`AUTH PLAIN ${bad}`)).toMatch(/^421 4\.7\.0/);
    await c.reply(2000).catch(() => '');
    expect(c.closed).toBe(true);
  });

  it.each([
    ['outside domain', 'victim@elsewhere.test'],
    ['source route', '@clinic.test:victim@elsewhere.test'],
    ['percent hack', 'victim%elsewhere.test@clinic.test'],
    ['bang path', 'elsewhere.test!victim@clinic.test'],
    ['quoted local part', '"victim@elsewhere.test"@clinic.test'],
  ])('inbound refuses relaying: %s', async (_name, rcpt) => {
    const c = await RawSmtp.connect(inbound.address().port);
    await c.command('EHLO attacker.test');
    expect(await c.command('MAIL FROM:<a@attacker.test>')).toMatch(/^250/);
    expect(await c.command(`RCPT TO:<${rcpt}>`)).toMatch(/^(554 5\.7\.1|501|553)/);
    c.close();
  });

  it('inbound accepts mail for its domains without AUTH', async () => {
    const c = await RawSmtp.connect(inbound.address().port);
    const ehlo = await c.command('EHLO mta.test');
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await c.command('MAIL FROM:<a@remote.test>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<Doctor@Clinic.Test>')).toMatch(/^250/);
    c.close();
  });

  const smuggling: [string, string][] = [
    ['<LF>.<LF>', '\n.\n'],
    ['<LF>.<CR><LF>', '\n.\r\n'],
    ['<CR>.<CR>', '\r.\r'],
    ['<CR><LF>.<CR>', '\r\n.\r'],
    ['<CR>.<CR><LF>', '\r.\r\n'],
    ['<LF>.<CR>', '\n.\r'],
  ];
  it.each(smuggling)('rejects smuggling with %s and stays in sync', async (_name, sequence) => {
    const before = ingested.length;
    const c = await RawSmtp.connect(inbound.address().port);
    await c.command('EHLO mta.test');
    await c.command('MAIL FROM:<a@remote.test>');
    await c.command('RCPT TO:<doctor@clinic.test>');
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(`Subject: one\r\n\r\nfirst${sequence}MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<doctor@clinic.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n`);
    expect(await c.reply()).toMatch(/^554 5\.6\.11 Bare CR or LF/);
    expect(await c.command('NOOP')).toMatch(/^250/);
    expect(ingested.length).toBe(before);
    c.close();
  });

  it('rejects over-long text lines, oversized messages and mail loops', async () => {
    const c = await RawSmtp.connect(inbound.address().port);
    await c.command('EHLO mta.test');
    const send = async (body: string) => {
      await c.command('MAIL FROM:<a@remote.test>');
      await c.command('RCPT TO:<doctor@clinic.test>');
      await c.command('DATA');
      c.write(`${body}\r\n.\r\n`);
      return c.reply();
    };
    expect(await send(`Subject: x\r\n\r\n${'a'.repeat(998)}`)).toMatch(/^250/);
    expect(await send(`Subject: x\r\n\r\n${'a'.repeat(999)}`)).toMatch(/^554 5\.6\.0/);
    expect(await send(`Subject: x\r\n\r\n${'0123456789abcdef\r\n'.repeat(15_000)}`)).toMatch(/^552 5\.3\.4/);
    expect(await send(`${'Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n'.repeat(51)}Subject: loop\r\n\r\nx`)).toMatch(/^554 5\.4\.6/);
    expect(await c.command('MAIL FROM:<a@remote.test> SIZE=300000')).toMatch(/^552 5\.3\.4/);
    c.close();
  });

  it('answers an HTTP request line with an error and closes', async () => {
    const c = await RawSmtp.connect(inbound.address().port);
    expect(await c.command('GET / HTTP/1.1')).toMatch(/^421/);
    await c.reply(2000).catch(() => '');
    expect(c.closed).toBe(true);
  });

  it('limits command lines to 512 bytes', async () => {
    const c = await RawSmtp.connect(inbound.address().port);
    expect(await c.command(`EHLO ${'a'.repeat(600)}`)).toMatch(/^(500|421)/);
    c.close();
  });

  it('limits connections per IP', async () => {
    const a = await RawSmtp.connect(tight.address().port);
    const b = await RawSmtp.connect(tight.address().port);
    const c = await RawSmtp.connect(tight.address().port);
    expect(a.greeting).toMatch(/^220 /);
    expect(c.greeting).toMatch(/^421 4\.7\.0 Too many connections/);
    for (const s of [a, b, c]) s.close();
  });

  it('limits commands per minute', async () => {
    const d = await RawSmtp.connect(rated.address().port);
    let last = '';
    for (let i = 0; i < 12 && !last.startsWith('421'); i++) last = await d.command('NOOP');
    expect(last).toMatch(/^421 4\.7\.0 Too many commands/);
    d.close();
  });

  it('speaks only TLS 1.2+ with AEAD ciphers', async () => {
    const port = implicit.address().port;
    const attempt = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...options });
        socket.once('secureConnect', () => {
          const proto = socket.getProtocol() ?? '';
          socket.destroy();
          resolve(proto);
        });
        socket.once('error', () => resolve('refused'));
      });
    expect(await attempt({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' })).toBe('refused');
    expect(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' })).toBe('refused');
    expect(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CBC-SHA256:ECDHE-ECDSA-AES128-SHA' })).toBe('refused');
    expect(await attempt({ maxVersion: 'TLSv1.2' })).toBe('TLSv1.2');
    expect(await attempt({})).toBe('TLSv1.3');
  });

  it('discards plaintext pipelined behind STARTTLS', async () => {
    const c = await RawSmtp.connect(submission.address().port);
    await c.command('EHLO client.test');
    c.write('STARTTLS\r\nRSET\r\n');
    expect(await c.reply()).toMatch(/^220/);
    // Were RSET processed, its 250 would arrive in plaintext now.
    await expect(c.reply(500)).rejects.toThrow(/no reply/);
    c.close();
  });
});
