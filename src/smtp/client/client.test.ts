import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpClient, xtext } from './client.ts';

function selfSigned(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-client-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
  return { key: readFileSync(path.join(dir, 'k.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'c.pem'), 'utf8') };
}

/**
 * A scripted server: plaintext greeting and EHLO, then a reply to STARTTLS with a forged
 * "250" pipelined right behind it (what a man-in-the-middle would inject), then TLS.
 */
function injectingServer(pair: { key: string; cert: string }, seen: string[]): Promise<net.Server> {
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
          socket.write('220 2.0.0 Ready to start TLS\r\n250 2.1.0 forged-by-attacker\r\n250 2.0.0 Ok: queued as FORGED\r\n');
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

  it('discards replies injected before the TLS handshake (CVE-2011-0411 class)', async () => {
    const pair = selfSigned('mx.inject.test');
    const seen: string[] = [];
    server = await injectingServer(pair, seen);
    const port = (server.address() as net.AddressInfo).port;
    const client = await SmtpClient.connect({ host: '127.0.0.1', port, servername: 'mx.inject.test', heloName: 'gw.test', connectTimeoutMs: 2000, commandTimeoutMs: 2000 });
    await client.ehlo();
    const details = await client.startTls({ ca: [pair.cert] });
    expect(details).toMatchObject({ version: 'TLSv1.3', verified: true });
    const { mail } = await client.envelope('a@gw.test', [], []);
    // Had the forged "250 2.1.0 forged-by-attacker" been kept, it would answer MAIL.
    expect(mail.raw).toBe('250 2.1.0 real sender ok');
    expect(seen.filter((l) => l.startsWith('plain: MAIL'))).toEqual([]);
    client.close();
  });

  it('reports an unverifiable certificate without trusting it', async () => {
    const pair = selfSigned('other.test');
    server = await injectingServer(pair, []);
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
    await expect(client.data(Readable.from([]))).rejects.toThrow();
    client.close();
  });

  it('encodes xtext', () => {
    expect(xtext('a+b=c d')).toBe('a+2Bb+3Dc+20d');
  });
});
