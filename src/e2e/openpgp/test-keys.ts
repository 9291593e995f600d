/**
 * Keys and messages for the e2e/openpgp tests (imported only by *.test.ts and test/), made with
 * OpenPGP.js itself so every test starts from keys a run generated.
 */
import * as openpgp from 'openpgp';
import type { PrivateKeyMaterial, PublicKeyMaterial } from '../types.ts';
import { generateKey, type KeyProfile } from './keys.ts';

export interface TestUser {
  address: string;
  fingerprint: string;
  secret: PrivateKeyMaterial;
  public: PublicKeyMaterial;
}

export async function testUser(address: string, now: Date, profile: KeyProfile = 'rfc4880', expiresInSeconds?: number): Promise<TestUser> {
  const key = await generateKey({ userIds: [`Test User <${address}>`], now, profile, expiresInSeconds });
  return { address, fingerprint: key.fingerprint, secret: { kind: 'openpgp', address, key: key.secretKey }, public: { kind: 'openpgp', address, data: key.certificate } };
}

/**
 * An OpenPGP message encrypted to `certificate` WITHOUT integrity protection: a PKESK and a
 * Symmetrically Encrypted Data packet (tag 9, RFC 9580 §5.7), built with OpenPGP.js's own packet
 * classes, the shape of an EFAIL-era message (gpg --rfc2440 --disable-mdc makes the same).
 */
export async function mdcLessMessage(certificate: Uint8Array, plaintext: Uint8Array): Promise<string> {
  const cert = await openpgp.readKey({ binaryKey: certificate });
  const sessionKey = await openpgp.generateSessionKey({ encryptionKeys: cert, config: { preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256 } });
  const keyPackets = await openpgp.encryptSessionKey({ ...sessionKey, encryptionKeys: cert, format: 'object' });
  // The typings mark these members private; they are the library's own way to build the packets.
  const literal = new openpgp.LiteralDataPacket() as unknown as { setBytes(b: Uint8Array, f: number): void };
  literal.setBytes(plaintext, openpgp.enums.literal.binary);
  const sed = new openpgp.SymmetricallyEncryptedDataPacket() as unknown as { packets: openpgp.PacketList<openpgp.AnyPacket>; encrypt(algo: number, key: Uint8Array): Promise<void> };
  sed.packets = new openpgp.PacketList();
  sed.packets.push(literal as unknown as openpgp.AnyPacket);
  await sed.encrypt(openpgp.enums.symmetric.aes256, sessionKey.data);
  const list = new openpgp.PacketList();
  list.push(...keyPackets.packets, sed as unknown as openpgp.AnyPacket);
  return openpgp.armor(openpgp.enums.armor.message, list.write());
}

/** A small multipart message with the fields RFC 9788 protects. */
export function sampleMessage(from: string, to: string, subject = 'Quarterly numbers'): Buffer {
  return Buffer.from(
    [
      'Received: from client.example by mx.example; Wed, 2 Dec 2026 10:00:00 +0000',
      `From: Alice <${from}>`,
      `To: <${to}>`,
      `Subject: ${subject}`,
      'Date: Wed, 2 Dec 2026 10:00:00 +0000',
      'Message-ID: <m1@example.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'The numbers are in. Grüße.',
      '--b1',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>The numbers are in.</p>',
      '--b1--',
      '',
    ].join('\r\n'),
  );
}
