import { describe, expect, it } from 'vitest';
import { parseReceived } from './received-trace.ts';
import { formatReceivedHeader } from './received.ts';

describe('formatReceivedHeader', () => {
  const date = new Date(Date.UTC(2026, 10, 24, 14, 47, 40));
  const headerLines = (header: Buffer) => header.toString('latin1').split('\r\n').filter((l) => l !== '');

  it('records the TLS version and cipher (RFC 8314 §4.3)', () => {
    const line = formatReceivedHeader({ fromHelo: 'client.test', fromIp: '127.0.0.1', byHost: 'mx.sealgate.test', protocol: 'ESMTPSA', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: 256 }, forRecipient: 'bob@a.test', date });
    expect(line.toString('latin1')).toBe(
      'Received: from client.test ([127.0.0.1])\r\n\tby mx.sealgate.test (Sealgate)\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\twith ESMTPSA\r\n\tfor <bob@a.test>;\r\n\tTue, 24 Nov 2026 14:47:40 +0000\r\n',
    );
  });

  it('names the authenticated user', () => {
    const line = formatReceivedHeader({ fromHelo: 'c.test', fromIp: '127.0.0.1', byHost: 'mx', protocol: 'ESMTPSA', authenticatedAs: 'alice@a.test', date });
    expect(line.toString('latin1')).toContain('\r\n\twith ESMTPSA (authenticated as alice@a.test);\r\n');
  });

  it('cannot be used to inject headers', () => {
    const line = formatReceivedHeader({ fromHelo: 'evil\r\nBcc: victim@x.test', fromHost: 'a)(b', fromIp: '127.0.0.1', byHost: 'mx', protocol: 'ESMTP', date });
    expect(headerLines(line).filter((l) => !l.startsWith('\t') && !l.startsWith('Received:'))).toEqual([]);
    expect(line.includes('\nBcc')).toBe(false);
  });

  it('writes U+010D U+010A as bytes that are not CR LF, and leaves a non-ASCII recipient out', () => {
    const line = formatReceivedHeader({ fromHelo: 'evil\u010d\u010aBcc\u013a victim', fromIp: '127.0.0.1', byHost: 'mx', protocol: 'UTF8SMTP', forRecipient: 'bob\u010d\u010aBcc:\u0120x@a.test', date });
    expect(headerLines(line).filter((l) => !l.startsWith('\t') && !l.startsWith('Received:'))).toEqual([]);
    expect([...line].every((b) => b < 0x80)).toBe(true);
    expect(line.toString('latin1')).not.toContain('for <');
  });

  it('writes an IDN HELO name in A-labels', () => {
    expect(formatReceivedHeader({ fromHelo: 'bücher.test', fromIp: '127.0.0.1', byHost: 'mx', protocol: 'ESMTP', date }).toString('latin1')).toContain('from xn--bcher-kva.test ');
  });
  it('keeps a hostile HELO or reverse name to one atom that a reader of the trace parses back', () => {
    // Found by test/fuzz/received-trace: a HELO of `Id` read as the id clause, the client address lost.
    for (const [fromHelo, fromHost] of [['Id', undefined], ['x by evil.test with ESMTPS', undefined], ['[x', 'a[b ]c for <v@x.test>']] as const) {
      const value = formatReceivedHeader({ fromHelo, fromHost, fromIp: '192.0.2.1', byHost: 'mx.sealgate.test', protocol: 'ESMTP', date }).toString('latin1').replace(/^Received:\s*/, '').replace(/\r\n[ \t]+/g, ' ').trim();
      expect(parseReceived(value)).toMatchObject({ fromIp: '192.0.2.1', by: 'mx.sealgate.test', with: 'ESMTP', tls: null });
    }
  });
});
