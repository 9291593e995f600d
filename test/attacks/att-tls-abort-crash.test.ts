import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Attack (follow-up of issue 8 item 10): destroying a raw socket under the TLS wrap
 * smtp-server put around it once killed the gateway with SIGSEGV. Remote clients try to reach
 * the same teardown: TCP resets at every stage of the handshake (after the ClientHello, after
 * the server's first flight, right after Finished, after the greeting), half-closes, garbage
 * records, on the implicit-TLS port and after STARTTLS on both STARTTLS ports, in parallel from
 * several addresses, timed around the handshake deadline and over the per-network cap. The
 * process must stay alive and still take an authenticated submission.
 */
const LIMITS = { maxConnections: 60, reservedSubmissionConnections: 10, maxConnectionsPerIp: 3, idleTimeoutMs: 20_000, preMailIdleTimeoutMs: 300, preMailSessionTimeoutMs: 2000 };
const PASSWORD = 'correct horse battery staple';
const STAGES = ['after-hello', 'server-flight', 'after-finished', 'after-greeting', 'half-close', 'garbage'] as const;
type Stage = (typeof STAGES)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads from a plain socket until `pattern` shows up (STARTTLS dialogue). */
function readUntil(socket: net.Socket, pattern: RegExp, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`no ${pattern} in ${JSON.stringify(seen)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (pattern.test(seen)) done();
    };
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onClose = () => done(new Error('closed'));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** One hostile client: TLS on `raw` (already connected, after STARTTLS when asked) ended at `stage`. */
async function abuse(port: number, localAddress: string, stage: Stage, options: { starttls: boolean; delayMs: number }): Promise<void> {
  const raw = net.connect({ port, host: '127.0.0.1', localAddress });
  raw.on('error', () => undefined);
  const closed = new Promise<void>((r) => raw.once('close', () => r()));
  const finish = () => Promise.race([closed, sleep(3000)]).then(() => void raw.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', () => resolve());
      raw.once('close', () => reject(new Error('closed')));
    });
    if (options.starttls) {
      await readUntil(raw, /^220 /m);
      raw.write(Buffer.from('EHLO abuser.test\r\n'));
      await readUntil(raw, /^250 /m);
      raw.write(Buffer.from('STARTTLS\r\n'));
      await readUntil(raw, /^220 /m);
    }
    await sleep(options.delayMs); // around the handshake deadline
    if (stage === 'garbage') {
      raw.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x20]), Buffer.alloc(32, 0xee), Buffer.from([0x17, 0x03, 0x03, 0x40, 0x00]), Buffer.alloc(512, 0x41)]));
      await sleep(5);
      raw.resetAndDestroy();
      return await finish();
    }
    const secure = tls.connect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
    secure.on('error', () => undefined);
    if (stage === 'after-hello') {
      setImmediate(() => raw.resetAndDestroy());
    } else if (stage === 'half-close') {
      setImmediate(() => raw.end());
    } else if (stage === 'server-flight') {
      raw.once('data', () => raw.resetAndDestroy());
    } else if (stage === 'after-finished') {
      secure.once('secureConnect', () => raw.resetAndDestroy());
    } else {
      secure.once('data', () => raw.resetAndDestroy());
    }
    await finish();
  } catch {
    raw.destroy();
  }
}

describe('att TLS aborts on the TLS ports', () => {
  const temp = tempDir('att-tls-abort');
  let gateway: GatewayProcess;

  beforeAll(async () => {
    gateway = await startGateway(path.join(temp.dir, 'gw'), { limits: LIMITS, web: { enabled: false } });
    expect((await gateway.cli('user', 'add', 'alice@corp.test', '--password', PASSWORD)).code).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    temp.cleanup();
  });

  it('survives resets, half-closes and garbage at every handshake stage, then takes a submission', async () => {
    const targets = [
      { port: gateway.ports.submissionTls, starttls: false },
      { port: gateway.ports.submission, starttls: true },
      { port: gateway.ports.inbound, starttls: true },
    ];
    const started = Date.now();
    for (let round = 0; Date.now() - started < 3500; round++) {
      const wave: Promise<void>[] = [];
      for (const target of targets) {
        for (const [i, stage] of STAGES.entries()) {
          for (let host = 2; host <= 5; host++) {
            // Delays straddle the 300 ms deadline: some handshakes finish just as it fires.
            const delayMs = target.starttls ? (round * 37 + i * 11) % 40 : [0, 5, 250, 280, 295, 300, 305][(round + i + host) % 7];
            wave.push(abuse(target.port, `127.0.0.${host}`, stage, { starttls: target.starttls, delayMs }));
          }
        }
      }
      await Promise.all(wave);
      expect(gateway.child.exitCode, gateway.output().slice(-2000)).toBeNull();
      expect(gateway.child.signalCode, gateway.output().slice(-2000)).toBeNull();
    }
    await sleep(500);
    expect(gateway.child.signalCode, gateway.output().slice(-2000)).toBeNull();
    expect(gateway.child.exitCode).toBeNull();
    const client = await RawSmtp.connect(gateway.ports.submissionTls, { implicitTls: true, localAddress: '127.0.0.9' });
    expect(client.greeting).toMatch(/^220 /);
    await client.command('EHLO client.test');
    expect(await client.command(`AUTH PLAIN ${Buffer.from(`\0alice@corp.test\0${PASSWORD}`).toString('base64')}`)).toMatch(/^235/);
    expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
    client.close();
  }, 30_000);
});
