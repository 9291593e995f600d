/**
 * The inbound end-to-end rig: a gateway whose domain corp.test is relayed to a real Postfix
 * mailbox, and a raw SMTP client that sends exactly the bytes a peer program produced.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { freePort, tempDir } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { RawSmtp } from '../../helpers/raw-smtp.ts';

export interface InboundRig {
  gateway: GatewayProcess;
  mailbox: PostfixInstance;
  dir: string;
  /** Sends one message; resolves with the final reply to DATA. */
  send(from: string, to: string[], message: string | Buffer): Promise<string>;
  /** The mailbox copy whose text contains `marker`, waiting for it. */
  delivered(marker: string, timeoutMs?: number): Promise<string>;
  /** Waits until `sealgate keys list --json` shows a key matching `wanted`; returns the list. */
  keysUntil(wanted: (key: { address: string; kind: string; source: string }) => boolean): Promise<{ address: string; kind: string; source: string }[]>;
  /** Stops the gateway and the mailbox, and the GnuPG agents of these homes. */
  stop(gnupgHomes?: string[]): Promise<void>;
}

/** LF to CRLF, as a mail client hands a message to SMTP. */
export function crlf(text: string | Buffer): Buffer {
  return Buffer.from(Buffer.from(text).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

export async function startInboundRig(name: string, ip: string, config: Record<string, unknown> = {}): Promise<InboundRig> {
  const temp = tempDir(name);
  const port = await freePort();
  const mailbox = await startPostfix({ ip, port, name: 'mail.corp.test', mode: 'accept', domains: ['corp.test'] });
  const gateway = await startGateway(path.join(temp.dir, 'gw'), {
    domains: { 'corp.test': { smarthost: `${ip}:${port}` } },
    queue: { retryScheduleMs: [1000], pollIntervalMs: 100 },
    ...config,
  });
  return {
    gateway,
    mailbox,
    dir: temp.dir,
    async send(from, to, message) {
      const client = await RawSmtp.connect(gateway.ports.inbound);
      try {
        await client.command('EHLO peer.sender.test');
        await client.command(`MAIL FROM:<${from}> BODY=8BITMIME`);
        for (const rcpt of to) {
          const reply = await client.command(`RCPT TO:<${rcpt}>`);
          if (!reply.startsWith('250')) return reply;
        }
        const go = await client.command('DATA');
        if (!go.startsWith('354')) return go;
        const body = crlf(message).toString('latin1').replace(/(^|\r\n)\./g, '$1..');
        client.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
        const reply = await client.reply(60_000);
        await client.command('QUIT').catch(() => '');
        return reply;
      } finally {
        client.close();
      }
    },
    async delivered(marker, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = mailbox.messages().find((m) => m.raw.includes(marker));
        if (found) return found.raw;
        if (Date.now() > deadline) throw new Error(`no mailbox copy with ${marker}; gateway log:\n${gateway.output().slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    async keysUntil(wanted) {
      let keys: { address: string; kind: string; source: string }[] = [];
      for (let i = 0; i < 50; i++) {
        keys = JSON.parse((await gateway.cli('keys', 'list', '--json')).stdout) as typeof keys;
        // Harvesting runs after the 250: give it a moment.
        if (keys.some(wanted)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return keys;
    },
    async stop(gnupgHomes = []) {
      for (const home of gnupgHomes) {
        try {
          execFileSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
        } catch {
          // no agent ran there
        }
      }
      await gateway.kill();
      await mailbox.stop();
      temp.cleanup();
    },
  };
}

/** The value of our result header in a delivered copy (unfolded), or undefined. */
export function resultHeader(raw: string): string | undefined {
  const head = raw.slice(0, raw.search(/\r?\n\r?\n/));
  const fields = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/).filter((l) => /^sealgate-e2e-result\s*:/i.test(l));
  if (fields.length > 1) throw new Error(`more than one result header:\n${fields.join('\n')}`);
  return fields[0]?.slice(fields[0].indexOf(':') + 1).trim();
}

/** A PGP/MIME multipart/encrypted message around an armored OpenPGP message (RFC 3156 §4). */
export function pgpMimeEncrypted(headers: string[], armored: string): string {
  return [...headers, 'MIME-Version: 1.0', 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc-b1"', '',
    'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)', '--enc-b1', 'Content-Type: application/pgp-encrypted', '', 'Version: 1', '',
    '--enc-b1', 'Content-Type: application/octet-stream; name="encrypted.asc"', '', armored.trim(), '', '--enc-b1--', ''].join('\r\n');
}

/** A PGP/MIME multipart/signed message (RFC 3156 §5) with a detached armored signature over `entity` (CRLF). */
export function pgpMimeSigned(headers: string[], entity: string, signature: string): string {
  return [...headers, 'MIME-Version: 1.0', 'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sig-b1"', '',
    '--sig-b1', entity, '--sig-b1', 'Content-Type: application/pgp-signature; name="signature.asc"', '', signature.trim(), '', '--sig-b1--', ''].join('\r\n');
}
