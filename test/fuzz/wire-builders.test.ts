import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressForPeer, encodeHeaderLine, formatReceivedHeader, mailboxRefusal } from '../../src/mail/index.ts';
import { commandBytes } from '../../src/smtp/client/client.ts';
import { xtext } from '../../src/smtp/index.ts';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS } from './runs.ts';

/*
 * Issue 8 proof: for any string given to an address, header or command builder, no CR, LF or
 * NUL reaches the wire or a header, except the line ends the builder writes itself. The
 * strings mix arbitrary Unicode with the characters that did the damage (U+0100 + a special,
 * lone surrogates, controls).
 */
const DANGEROUS = ['\r', '\n', '\0', '\u010d', '\u010a', '\u0100', '\u0140', '\u013c', '\u013e', '\u0120', '\u013a', '\u2028', '\u0085', '\ud800', '\udc00', '\ufffd', '<', '>', '@', ':', ' ', '\t', '"', '\\', '.', 'a', 'Z', '0', '用', 'é'];
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(fc.constantFrom(...DANGEROUS), { maxLength: 40 }).map((parts) => parts.join('')),
  fc.tuple(fc.array(fc.constantFrom(...DANGEROUS), { maxLength: 12 }), fc.constantFrom('example.test', 'bücher.test', '[127.0.0.1]')).map(([l, d]) => `${l.join('')}@${d}`),
);
const params = { numRuns: FUZZ_RUNS };

/** Positions of CR, LF and NUL bytes. */
function breaks(bytes: Buffer): number[] {
  const at: number[] = [];
  bytes.forEach((b, i) => {
    if (b === 0x0d || b === 0x0a || b === 0x00) at.push(i);
  });
  return at;
}

/** A header field as we write it: CR and LF only as CRLF+TAB folds and the final CRLF, never NUL. */
function isCleanHeader(bytes: Buffer): boolean {
  if (!bytes.subarray(-2).equals(Buffer.from('\r\n'))) return false;
  const inner = bytes.subarray(0, -2);
  let i = 0;
  for (const at of breaks(inner)) {
    if (at < i) continue;
    if (!(inner[at] === 0x0d && inner[at + 1] === 0x0a && inner[at + 2] === 0x09)) return false;
    i = at + 3;
  }
  return true;
}

describe('no CR, LF or NUL from any input (property)', () => {
  it('command lines: one CRLF at the end, nothing else breaks the line', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostile, fc.boolean(), (address, utf8) => {
        for (const line of [`MAIL FROM:<${address}>`, `RCPT TO:<${address}> NOTIFY=FAILURE`, `EHLO ${address}`]) {
          let bytes: Buffer;
          try {
            bytes = commandBytes(line, utf8);
          } catch {
            continue; // refused: nothing written
          }
          expect(breaks(bytes)).toEqual([bytes.length - 2, bytes.length - 1]);
          if (!utf8) expect(bytes.every((b) => b < 0x80)).toBe(true);
        }
      }),
      params,
    );
  });

  it('addresses the door accepts carry no line break, NUL or control, and stay ASCII without SMTPUTF8', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostile, fc.boolean(), fc.constantFrom('sender' as const, 'recipient' as const), (address, smtpUtf8, role) => {
        if (mailboxRefusal(address, { smtpUtf8, role })) return;
        const bytes = Buffer.from(address, 'utf8');
        expect(breaks(bytes)).toEqual([]);
        expect(/[\p{Cc}\p{Cs}]/u.test(address)).toBe(false);
        if (!smtpUtf8) expect(bytes.every((b) => b < 0x80)).toBe(true);
        // What the client makes of it for a peer without SMTPUTF8 is ASCII or nothing.
        const forLegacy = addressForPeer(address, false);
        if (forLegacy !== null) expect(/^[\x21-\x7e]+$/.test(forLegacy.replace(/"[^"]*"/g, 'q'))).toBe(true);
      }),
      params,
    );
  });

  it('header fields: CR/LF only as folds, never NUL; ASCII unless UTF-8 was asked for', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant('Subject'), fc.constant('Message-ID'), hostile), fc.oneof(hostile, fc.array(hostile, { maxLength: 4 })), fc.boolean(), (name, value, utf8) => {
        let bytes: Buffer;
        try {
          bytes = encodeHeaderLine(name, value, { utf8 });
        } catch {
          return;
        }
        expect(isCleanHeader(bytes)).toBe(true);
        if (!utf8) expect(bytes.every((b) => b < 0x80)).toBe(true);
      }),
      params,
    );
  });

  it('our Received: line is clean ASCII whatever the client said', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, hostile, fc.option(hostile), (helo, host, recipient, user, cipher) => {
        const bytes = formatReceivedHeader({ fromHelo: helo, fromHost: host, fromIp: '127.0.0.1', byHost: 'mx.test', protocol: 'ESMTPSA', tls: cipher === null ? undefined : { version: 'TLSv1.3', cipher }, forRecipient: recipient, authenticatedAs: user, date: new Date(0) });
        expect(isCleanHeader(bytes)).toBe(true);
        expect(bytes.every((b) => b < 0x80)).toBe(true);
        expect(bytes.toString('latin1').split('\r\n').filter((l) => l && !l.startsWith('\t') && !l.startsWith('Received: '))).toEqual([]);
      }),
      params,
    );
  });

  it('xtext values are printable ASCII without + or = unescaped', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fc.assert(
      fc.property(hostile, (value) => {
        expect(/^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/.test(xtext(value))).toBe(true);
      }),
      params,
    );
  });
});
