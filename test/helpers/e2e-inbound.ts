/**
 * Keys and messages for attacks on the inbound end-to-end step (issue 11): our users' keys and
 * a correspondent's, made here with OpenPGP.js and given to the gateway with `keys import`, and PGP/MIME messages built with Sealgate's own protector (a real encoder: the
 * attacks change what is around or inside it, never how OpenPGP is written).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { openpgpProtector, type PrivateKeyMaterial } from '../../src/e2e/index.ts';
import { gatewayWithSmarthost, type SmarthostRig, type SmarthostRigOptions } from './attack-rig.ts';
import type { GatewayProcess } from './gateway.ts';
import { RawSmtp } from './raw-smtp.ts';
import { sendData } from './smtp-session.ts';

export interface E2eParties {
  /** Armored public key of a user whose key the gateway holds. */
  userPublic(address: string): Uint8Array;
  /** A correspondent the gateway knows (imported). */
  sender: PrivateKeyMaterial;
}

export async function e2eParties(gateway: GatewayProcess, users: string[], senderAddress: string, dir: string): Promise<E2eParties> {
  const make = (email: string) => openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email }], format: 'binary', date: new Date(Date.now() - 60_000) });
  const publics = new Map<string, Uint8Array>();
  const secrets: Uint8Array[] = [];
  for (const user of users) {
    const made = await make(user);
    publics.set(user, made.publicKey);
    secrets.push(made.privateKey);
  }
  const sender = await make(senderAddress);
  // One import (one CLI process): the users' secret keys become user keys, the sender's certificate a peer key.
  const file = path.join(dir, 'keys.pgp');
  writeFileSync(file, Buffer.concat([...secrets, sender.publicKey]));
  const imported = await gateway.cli('keys', 'import', file);
  if (imported.code !== 0) throw new Error(`keys import: ${imported.stderr}`);
  return {
    userPublic: (address) => publics.get(address)!,
    sender: { kind: 'openpgp', address: senderAddress, key: sender.privateKey },
  };
}

/**
 * The inbound attacks' gateway: corp.test relayed to a recording smarthost, bob@corp.test's
 * key held by the gateway, alice@sender.test's certificate imported.
 */
export function e2eInboundRig(prefix: string, options: Omit<SmarthostRigOptions, 'prefix' | 'setup'> = {}): SmarthostRig & { readonly parties: E2eParties } {
  let parties: E2eParties | undefined;
  const rig = gatewayWithSmarthost({
    ...options,
    prefix,
    setup: async (gateway) => {
      parties = await e2eParties(gateway, ['bob@corp.test'], 'alice@sender.test', rig.temp.dir);
    },
  });
  return {
    get gateway() {
      return rig.gateway;
    },
    get rx() {
      return rig.rx;
    },
    temp: rig.temp,
    get parties() {
      if (!parties) throw new Error('the parties exist only inside tests (beforeAll failed?)');
      return parties;
    },
  };
}

/** `payload`'s header fields around a PGP/MIME body holding `armored` (RFC 3156 §4), CRLF line ends. */
export function pgpMimeAround(payload: Buffer, armored: string): Buffer {
  return Buffer.from(
    `${payload.toString('latin1').split('MIME-Version')[0]}MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b2"\r\n\r\n` +
      `--b2\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--b2\r\nContent-Type: application/octet-stream\r\n\r\n${armored}\r\n--b2--\r\n`,
  );
}

export function plainMessage(from: string, to: string, subject: string, text: string, extra: string[] = []): Buffer {
  const id = `<${Math.random().toString(36).slice(2)}@attack.test>`;
  return Buffer.from([`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, `Date: ${new Date().toUTCString()}`, `Message-ID: ${id}`, ...extra, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', text, ''].join('\r\n'));
}

export async function pgpProtect(message: Buffer, options: { encryptTo?: { address: string; data: Uint8Array }[]; signer?: PrivateKeyMaterial }): Promise<Buffer> {
  const recipients = (options.encryptTo ?? []).map((r) => ({ kind: 'openpgp' as const, address: r.address, data: r.data }));
  const protectedMessage = await openpgpProtector.protect(message, { sign: !!options.signer, encrypt: recipients.length > 0, recipients, signer: options.signer, now: new Date() });
  // The armor comes with bare LF line ends; on the wire every line ends in CRLF.
  return Buffer.from(Buffer.from(protectedMessage).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** One SMTP transaction on the inbound port; the reply to the end of DATA. */
export async function sendInbound(port: number, from: string, to: string[], message: Buffer): Promise<string> {
  const client = await RawSmtp.connect(port);
  try {
    await client.command('EHLO mx.attacker.test');
    await client.command(`MAIL FROM:<${from}>`);
    for (const rcpt of to) {
      const reply = await client.command(`RCPT TO:<${rcpt}>`);
      if (!reply.startsWith('250')) return reply;
    }
    return await sendData(client, Buffer.from(message.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1'));
  } finally {
    client.close();
  }
}

/** Every value of our result field in a relayed copy (unfolded). */
export function resultFields(data: Buffer): string[] {
  const text = data.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n').filter((l) => /^\s*sealgate-e2e-result\s*:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim());
}
