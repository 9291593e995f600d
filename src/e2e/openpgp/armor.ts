/**
 * ASCII armor (RFC 9580 §6.2) of OpenPGP *messages*, with Node's native base64. Not the
 * library's `armor()`/`unarmor()` on purpose: OpenPGP.js encodes line by line in JS strings,
 * and for a 1 MB message that was ~95% of `encrypt` (bench/README.md, e2e). Keys and
 * signatures, which are small, still go through the library.
 */
import { MailError } from '../../kernel/index.ts';

const BEGIN = '-----BEGIN PGP MESSAGE-----';
const END = '-----END PGP MESSAGE-----';

const CRC24_TABLE = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 16;
    for (let j = 0; j < 8; j++) crc = (crc << 1) ^ (crc & 0x800000 ? 0x864cfb : 0);
    table[i] = crc & 0xffffff;
  }
  return table;
})();

/** RFC 9580 §6.1's CRC-24 (init 0xB704CE, polynomial 0x864CFB). */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (let i = 0; i < data.length; i++) crc = ((crc << 8) ^ CRC24_TABLE[((crc >> 16) ^ data[i]) & 0xff]) & 0xffffff;
  return crc;
}

/**
 * Armors a binary OpenPGP message, 64 base64 characters a line; LF line ends as OpenPGP.js
 * writes them, or CRLF for a MIME part. `checksum`: the CRC-24 line, which RFC 9580 forbids
 * after a v2 SEIPD packet but GnuPG needs on v4-era messages (its decoder fails on unpadded
 * base64 without one, T7071).
 */
export function armorMessage(binary: Uint8Array, checksum: boolean, eol: '\n' | '\r\n' = '\n'): Buffer {
  const base64 = Buffer.from(Buffer.from(binary.buffer, binary.byteOffset, binary.byteLength).toString('base64'), 'latin1');
  const lines = Math.ceil(base64.length / 64);
  const head = Buffer.from(`${BEGIN}${eol}${eol}`, 'latin1');
  let tail = '';
  if (checksum) {
    const crc = crc24(binary);
    tail = `=${Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64')}${eol}`;
  }
  tail += `${END}${eol}`;
  // One buffer, the lines copied in: joining thousands of strings cost more than the base64.
  const out = Buffer.allocUnsafe(head.length + base64.length + lines * eol.length + tail.length);
  let pos = head.copy(out, 0);
  for (let i = 0; i < lines; i++) {
    pos += base64.copy(out, pos, i * 64, Math.min(base64.length, i * 64 + 64));
    pos += out.write(eol, pos, 'latin1');
  }
  out.write(tail, pos, 'latin1');
  return out;
}

function badArmor(what: string): MailError {
  return new MailError(550, '5.6.0', `The OpenPGP message cannot be read: ${what}`, 'e2e');
}

/**
 * The binary packets of an armored message, or null when the armor is not a plain
 * `PGP MESSAGE` block (multipart armor, a cleartext-signed message): the caller then lets the
 * library read it. A checksum line is skipped, not checked: RFC 9580 §6.1 says an implementation
 * "MUST NOT reject an OpenPGP object when the CRC24 footer is present, missing, malformed, or
 * disagrees with the computed CRC24 sum" (the packets' own integrity protection, SEIPD's MDC
 * or AEAD tag and the signature, is what catches damage); computing it cost ~5 ms per MB.
 */
export function dearmorMessage(armored: Uint8Array): Buffer | null {
  const text = Buffer.from(armored.buffer, armored.byteOffset, armored.byteLength).toString('latin1');
  const start = text.indexOf(BEGIN);
  if (start < 0 || text.slice(0, start).trim()) return null;
  const headerEnd = /\r?\n[ \t]*\r?\n/g;
  headerEnd.lastIndex = start + BEGIN.length;
  const blank = headerEnd.exec(text);
  const end = text.indexOf(END, start);
  if (!blank || end < 0 || blank.index > end) throw badArmor('the armor has no blank line after its headers or no END line');
  // Armor headers (Version:, Comment:) between BEGIN and the blank line are informative only.
  let body = text.slice(blank.index + blank[0].length, end);
  const crcLine = /(?:^|\n)=[^\n]*\n?$/.exec(body.trimEnd());
  if (crcLine) body = body.slice(0, crcLine.index);
  if (/[^A-Za-z0-9+/=\s]/.test(body)) throw badArmor('the armor holds characters that are not base64');
  return Buffer.from(body, 'base64');
}
