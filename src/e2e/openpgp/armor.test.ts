import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { armorMessage, crc24, dearmorMessage } from './armor.ts';

describe('message armor (native base64)', () => {
  for (const size of [0, 1, 2, 3, 47, 48, 1000, 70_001]) {
    it(`${size} bytes: the library reads ours, we read the library's, checksums agree`, async () => {
      const data = randomBytes(size);
      const ours = armorMessage(data, true);
      const read = await openpgp.unarmor(ours.toString('latin1'));
      expect(Buffer.from(read.data as Uint8Array).equals(data)).toBe(true);
      const theirs = openpgp.armor(openpgp.enums.armor.message, data, undefined, undefined, 'a comment', true);
      expect(dearmorMessage(Buffer.from(theirs))!.equals(data)).toBe(true);
      expect(dearmorMessage(Buffer.from(theirs.replace(/\n/g, '\r\n')))!.equals(data)).toBe(true);
      expect(dearmorMessage(armorMessage(data, false))!.equals(data)).toBe(true);
      const crlf = armorMessage(data, true, '\r\n');
      expect(crlf.toString('latin1').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      expect(crlf.toString('latin1').replace(/\r\n/g, '\n')).toBe(ours.toString('latin1'));
      expect(dearmorMessage(crlf)!.equals(data)).toBe(true);
    });
  }

  it('computes RFC 9580 CRC-24 (the check value of "123456789" is 0x21CF02)', () => {
    expect(crc24(Buffer.from('123456789'))).toBe(0x21cf02);
  });

  it('does not reject a checksum that disagrees or is malformed (RFC 9580 §6.1 MUST NOT); refuses non-base64 characters', () => {
    const data = Buffer.from('an OpenPGP message, pretend');
    const armored = armorMessage(data, true).toString('latin1');
    const lines = armored.split('\n');
    const crcAt = lines.findIndex((l) => l.startsWith('='));
    for (const footer of ['=AAAA', '=not a crc', '=']) {
      lines[crcAt] = footer;
      expect(dearmorMessage(Buffer.from(lines.join('\n')))!.equals(data), footer).toBe(true);
    }
    expect(() => dearmorMessage(Buffer.from(armored.replace('\n\n', '\n\n*')))).toThrow(/not base64/);
  });

  it('leaves other armor (a cleartext-signed message) to the library', () => {
    expect(dearmorMessage(Buffer.from('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n'))).toBeNull();
  });
});
