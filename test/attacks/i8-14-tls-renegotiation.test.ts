import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { freePort, tempDir, waitForPort } from '../helpers/ports.ts';
import { smtpStartTls, tlsDial, tryRenegotiate } from '../helpers/tls-probe.ts';

/*
 * Issue 8 item 14: the SMTP listeners (and the portal, issue 9 item 14) accepted a TLS 1.2
 * renegotiation the client started (testssl.sh: "Secure Client-Initiated Renegotiation
 * VULNERABLE, potential DoS"). Against the real gateway process, each listener is asked for
 * one over TLS 1.2 and must refuse it.
 */

describe('client-initiated TLS renegotiation is refused on every listener', () => {
  const tmp = tempDir('sg-i8-14-');
  let gateway: GatewayProcess;
  let webPort: number;
  beforeAll(async () => {
    webPort = await freePort();
    gateway = await startGateway(tmp.dir, { web: { port: webPort } });
    await waitForPort('127.0.0.1', webPort);
  }, 30_000);
  afterAll(async () => {
    await gateway?.kill();
    tmp.cleanup();
  });

  const tls12 = { maxVersion: 'TLSv1.2' as const };

  it('inbound (STARTTLS)', async () => {
    const socket = await smtpStartTls(gateway.ports.inbound, tls12);
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(await tryRenegotiate(socket)).toMatchObject({ outcome: 'refused' });
  });

  it('submission (STARTTLS)', async () => {
    const socket = await smtpStartTls(gateway.ports.submission, tls12);
    expect(await tryRenegotiate(socket)).toMatchObject({ outcome: 'refused' });
  });

  it('submission with implicit TLS', async () => {
    const socket = await tlsDial(gateway.ports.submissionTls, tls12);
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(await tryRenegotiate(socket)).toMatchObject({ outcome: 'refused' });
  });

  it('the portal', async () => {
    const socket = await tlsDial(webPort, tls12);
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(await tryRenegotiate(socket)).toMatchObject({ outcome: 'refused' });
  });
});
