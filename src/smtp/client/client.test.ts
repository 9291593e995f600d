import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { startRecordingSmtp } from '../../../test/helpers/recording-smtp.ts';
import { SmtpClient, SmtpClientError, xtext } from './client.ts';

function selfSigned(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-client-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
  return { key: readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'c.pem'), 'utf8') };
}

/**
 * A scripted server: plaintext greeting and EHLO, then a reply to STARTTLS with a forged
 * "250" pipelined right behind it (what a man-in-the-middle would inject), then TLS.
 */
function injectingServer(pair: { key: string; cert: string }, seen: string[], inject = true): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.write('220 mx.inject.test ESMTP\r\n');
    let buffer = '';
    const onData = (data: Buffer) => {
      buffer += data.toString('latin1');
      let index: number;
      while ((index = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        seen.push(`plain: ${line}`);
        if (line.startsWith('EHLO')) socket.write('250-mx.inject.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
        if (line === 'STARTTLS') {
          socket.removeListener('data', onData);
          socket.write(inject ? '220 2.0.0 Ready to start TLS\r\n250 2.1.0 forged-by-attacker\r\n250 2.0.0 Ok: queued as FORGED\r\n' : '220 2.0.0 Ready to start TLS\r\n');
          const secure = new tls.TLSSocket(socket, { isServer: true, key: pair.key, cert: pair.cert });
          let tlsBuffer = '';
          secure.on('data', (d: Buffer) => {
            tlsBuffer += d.toString('latin1');
            let i: number;
            while ((i = tlsBuffer.indexOf('\r\n')) >= 0) {
              const tlsLine = tlsBuffer.slice(0, i);
              tlsBuffer = tlsBuffer.slice(i + 2);
              seen.push(`tls: ${tlsLine}`);
              if (tlsLine.startsWith('EHLO')) secure.write('250-mx.inject.test\r\n250 PIPELINING\r\n');
              else if (tlsLine.startsWith('MAIL')) secure.write('250 2.1.0 real sender ok\r\n');
            }
          });
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('SmtpClient', () => {
  let server: net.Server | undefined;
  afterEach(() => server?.close());

  it('fails the attempt on replies injected before the TLS handshake (CVE-2011-0411 class)', async () => {
    const pair = selfSigned('mx.inject.test');
    const seen: string[] = [];
    server = await injectingServer(pair, seen);
    const port = (server.address() as net.AddressInfo).port;
    const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'mx.inject.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 2000 });
    await client.ehlo();
    // Two replies nobody asked for came behind the 220: the session is not to be trusted,
    // and the error must not read as a handshake failure (that would allow a plaintext retry).
    const failure = await client.startTls({ ca: [pair.cert] }).then(() => null, (error: Error) => error);
    expect(failure?.message).toMatch(/out of step/);
    expect(failure?.message).not.toMatch(/TLS handshake/);
    expect(client.alive).toBe(false);
    expect(seen.filter((l) => /MAIL/.test(l))).toEqual([]);
    client.close();
  });

  it('reports an unverifiable certificate without trusting it', async () => {
    const pair = selfSigned('other.test');
    server = await injectingServer(pair, [], false);
    const port = (server.address() as net.AddressInfo).port;
    const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'mx.inject.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 2000 });
    await client.ehlo();
    const details = await client.startTls({});
    expect(details.verified).toBe(false);
    expect(details.verifyError).toBeTruthy();
    client.close();
  });

  it('never writes a command with an embedded line break', async () => {
    const pair = selfSigned('mx.inject.test');
    server = await injectingServer(pair, []);
    const port = (server.address() as net.AddressInfo).port;
    const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'mx.inject.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 2000 });
    await expect(client.envelope('a@x\r\nRCPT TO:<victim@y>', [], [])).rejects.toThrow(/line break/);
    await expect(client.envelope('a@x.test', [], [{ address: 'b@y\u0000z', params: [] }])).rejects.toThrow(/control/);
    await expect(client.data(Readable.from([]))).rejects.toThrow();
    client.close();
  });

  it('encodes xtext', () => {
    expect(xtext('a+b=c d')).toBe('a+2Bb+3Dc+20d');
  });
});

/** A scripted plaintext server: answers each command line with what `answer` returns (or nothing). */
function scriptedServer(extensions: string[], answer: (line: Buffer) => string | undefined, seen: Buffer[]): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.write('220 mx.script.test ESMTP\r\n');
    let buffer = Buffer.alloc(0);
    let inData = false;
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.subarray(end + 5);
          inData = false;
          socket.write('250 2.0.0 body accepted\r\n');
          continue;
        }
        const lf = buffer.indexOf(0x0a);
        if (lf < 0) return;
        const line = buffer.subarray(0, lf - 1);
        buffer = buffer.subarray(lf + 1);
        seen.push(Buffer.from(line));
        if (/^EHLO/i.test(line.toString('latin1'))) {
          socket.write(['250-mx.script.test', ...extensions.map((e) => `250-${e}`), '250 HELP'].join('\r\n') + '\r\n');
          continue;
        }
        const reply = answer(line);
        if (reply?.startsWith('354')) inData = true;
        if (reply !== undefined) socket.write(`${reply}\r\n`);
      }
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('SmtpClient on the wire', () => {
  let server: net.Server | undefined;
  afterEach(() => server?.close());
  const connect = async (srv: net.Server) =>
    SmtpClient.connect({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, servername: 'mx.script.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 2000 });

  it('writes a UTF-8 envelope as UTF-8 bytes, with SMTPUTF8, to a server that offers it', async () => {
    const seen: Buffer[] = [];
    server = await scriptedServer(['PIPELINING', 'SMTPUTF8'], () => '250 ok', seen);
    const client = await connect(server);
    await client.ehlo();
    const { mail, rcpts } = await client.envelope('用户@example.test', [], [{ address: 'x\u010d\u010ay@example.test', params: [] }]);
    expect([mail.code, rcpts[0].code]).toEqual([250, 250]);
    expect(seen.slice(1).map((b) => b.toString('hex'))).toEqual([Buffer.from('MAIL FROM:<用户@example.test> SMTPUTF8').toString('hex'), Buffer.from('RCPT TO:<x\u010d\u010ay@example.test>').toString('hex')]);
    client.close();
  });

  it('refuses a non-ASCII local part for a server without SMTPUTF8 (553 5.6.7, nothing sent); an IDN domain goes as A-labels', async () => {
    const seen: Buffer[] = [];
    server = await scriptedServer(['PIPELINING'], () => '250 ok', seen);
    const client = await connect(server);
    await client.ehlo();
    const { rcpts } = await client.envelope('a@example.test', [], [{ address: '用户@example.test', params: [] }, { address: 'anna@bücher.test', params: [] }]);
    expect(rcpts[0]).toMatchObject({ code: 553, enhanced: '5.6.7', local: true });
    expect(rcpts[1].code).toBe(250);
    expect(seen.slice(1).map(String)).toEqual(['MAIL FROM:<a@example.test>', 'RCPT TO:<anna@xn--bcher-kva.test>']);
    const again = await client.envelope('用户@example.test', [], [{ address: 'b@example.test', params: [] }]);
    expect(again.mail).toMatchObject({ code: 553, enhanced: '5.6.7' });
    client.close();
  });

  it('treats a 250 answer to DATA as a transient failure and closes', async () => {
    server = await scriptedServer(['PIPELINING'], (line) => (/^DATA/.test(String(line)) ? '250 2.0.0 not really' : '250 ok'), []);
    const client = await connect(server);
    await client.ehlo();
    await client.envelope('a@example.test', [], [{ address: 'b@example.test', params: [] }]);
    const error = await client.data(Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')])).then(() => null, (e: SmtpClientError) => e);
    expect(error).toBeInstanceOf(SmtpClientError);
    expect(error?.temporary).toBe(true);
    expect(client.alive).toBe(false);
  });

  it('keeps a 554 answer to DATA as the server said it', async () => {
    server = await scriptedServer([], (line) => (/^DATA/.test(String(line)) ? '554 5.7.1 no thanks' : '250 ok'), []);
    const client = await connect(server);
    await client.ehlo();
    await client.envelope('a@example.test', [], [{ address: 'b@example.test', params: [] }]);
    expect((await client.data(Readable.from([Buffer.from('x\r\n')]))).code).toBe(554);
    client.close();
  });

  it('fails on a reply nobody asked for (two answers to one command)', async () => {
    server = await scriptedServer([], (line) => (/^MAIL/.test(String(line)) ? '250 ok\r\n250 extra' : '250 ok'), []);
    const client = await connect(server);
    await client.ehlo();
    await expect(client.envelope('a@example.test', [], [{ address: 'b@example.test', params: [] }])).rejects.toThrow(/out of step/);
    expect(client.alive).toBe(false);
  });

  it('delivers a normal message (354, body, 250)', async () => {
    server = await scriptedServer(['PIPELINING'], (line) => (/^DATA/.test(String(line)) ? '354 go' : '250 ok'), []);
    const client = await connect(server);
    await client.ehlo();
    await client.envelope('a@example.test', [], [{ address: 'b@example.test', params: [] }]);
    expect((await client.data(Readable.from([Buffer.from('Subject: x\r\n\r\n.leading dot\r\n')]))).raw).toBe('250 2.0.0 body accepted');
    client.close();
  });

  it('reports the SHA-256 of the DATA bytes as they went on the wire: dot-stuffed, CRLF, without the final .CRLF', async () => {
    const rx = await startRecordingSmtp();
    try {
      const client = await SmtpClient.connect({ host: rx.host, port: rx.port, servername: 'rx.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 5000 });
      await client.ehlo();
      await client.envelope('a@example.test', [], [{ address: 'b@example.test', params: [] }]);
      // A leading dot, a bare LF and no line end at the end, split across chunks mid-line.
      const reply = await client.data(Readable.from([Buffer.from('Subject: x\r\n\r\n.lead'), Buffer.from('ing dot\nbare LF\r'), Buffer.from('\nlast line')]));
      expect(reply.code).toBe(250);
      await client.quit();
      const [transaction] = rx.transactions();
      expect(transaction.data.toString('latin1')).toBe('Subject: x\r\n\r\n..leading dot\r\nbare LF\r\nlast line\r\n');
      expect(reply.sentSha256).toBe(createHash('sha256').update(transaction.data).digest('hex'));
    } finally {
      await rx.stop();
    }
  });

  it('hashes and ends the DATA right when the body comes a byte or two at a time', async () => {
    const rx = await startRecordingSmtp();
    try {
      const client = await SmtpClient.connect({ host: rx.host, port: rx.port, servername: 'rx.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 5000 });
      await client.ehlo();
      await client.envelope('a@example.test', [], [{ address: 'b@example.test', params: [] }]);
      const text = Buffer.from('Subject: y\r\n\r\nab\r\n.x\r\n');
      // One and two bytes in turn.
      const chunks: Buffer[] = [];
      for (let at = 0; at < text.length; ) {
        const size = chunks.length % 2 ? 1 : 2;
        chunks.push(text.subarray(at, at + size));
        at += size;
      }
      const reply = await client.data(Readable.from(chunks));
      expect(reply.code).toBe(250);
      await client.quit();
      const [transaction] = rx.transactions();
      expect(transaction.data.toString('latin1')).toBe('Subject: y\r\n\r\nab\r\n..x\r\n');
      expect(reply.sentSha256).toBe(createHash('sha256').update(transaction.data).digest('hex'));
    } finally {
      await rx.stop();
    }
  });
});
