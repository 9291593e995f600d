import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERMEDIATE_CIPHERS } from '../../src/smtp/index.ts';
import { tempDir } from '../helpers/ports.ts';
import { startPortal } from '../helpers/portal-socket.ts';
import { tlsDial, tryRenegotiate } from '../helpers/tls-probe.ts';

const run = promisify(execFile);

/*
 * Issue 9 item 14: the portal negotiated CBC suites (ECDHE-ECDSA-AES128-SHA …, testssl.sh
 * "Obsolete CBC ciphers offered") while the SMTP listeners did not. The portal must use the same
 * Mozilla-intermediate profile, with the self-signed ECDSA certificate and with an RSA one.
 */

const CBC = ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-RSA-AES128-SHA256', 'AES128-SHA', 'AES256-SHA', 'AES128-GCM-SHA256'];

async function offersOnly(port: number, ciphers: string): Promise<string> {
  try {
    const socket = await tlsDial(port, { maxVersion: 'TLSv1.2', ciphers });
    const name = socket.getCipher().name;
    socket.destroy();
    return `accepted ${name}`;
  } catch (error) {
    return `refused ${(error as NodeJS.ErrnoException).code ?? ''}`;
  }
}

describe.each(['ecdsa', 'rsa'] as const)('the portal TLS profile with an %s certificate', (kind) => {
  const tmp = tempDir('sg-i9-14-');
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    let tls: { key: string; cert: string } | undefined;
    if (kind === 'rsa') {
      const key = path.join(tmp.dir, 'rsa.key');
      const cert = path.join(tmp.dir, 'rsa.crt');
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert]);
      tls = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
    }
    portal = await startPortal({ tls });
  }, 20_000);
  afterAll(async () => {
    await portal?.stop();
    tmp.cleanup();
  });

  it('refuses every CBC suite (and static RSA) a client offers alone', async () => {
    for (const cipher of CBC) expect(await offersOnly(portal.port, cipher), cipher).toMatch(/^refused/);
  });

  it('refuses TLS 1.1 and below', async () => {
    await expect(tlsDial(portal.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).rejects.toThrow();
  });

  it('negotiates only the intermediate AEAD suites over TLS 1.2', async () => {
    const outcome = await offersOnly(portal.port, `${INTERMEDIATE_CIPHERS}:${CBC.join(':')}`);
    expect(outcome).toMatch(/^accepted /);
    expect(INTERMEDIATE_CIPHERS.split(':')).toContain(outcome.slice('accepted '.length));
  });

  it('refuses a client-initiated renegotiation', async () => {
    const socket = await tlsDial(portal.port, { maxVersion: 'TLSv1.2' });
    expect(await tryRenegotiate(socket)).toMatchObject({ outcome: 'refused' });
  });

  it('openssl s_client offering only a CBC suite fails the handshake', async () => {
    const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${portal.port}`, '-tls1_2', '-cipher', kind === 'rsa' ? 'ECDHE-RSA-AES128-SHA' : 'ECDHE-ECDSA-AES128-SHA'], { timeout: 10_000 }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    expect(result.code).not.toBe(0);
    expect(result.out).toMatch(/handshake failure|no cipher|alert/i);
  });
});
