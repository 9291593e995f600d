import { describe, expect, it } from 'vitest';
import { formatReceivedHeader } from './received.ts';

describe('formatReceivedHeader', () => {
  const date = new Date(Date.UTC(2026, 10, 24, 14, 47, 40));

  it('records the TLS version and cipher (RFC 8314 §4.3)', () => {
    const line = formatReceivedHeader({ fromHelo: 'client.test', fromIp: '127.0.0.1', byHost: 'mx.sealgate.test', protocol: 'ESMTPSA', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: 256 }, forRecipient: 'bob@a.test', date });
    expect(line).toBe(
      'Received: from client.test ([127.0.0.1])\r\n\tby mx.sealgate.test (Sealgate)\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\twith ESMTPSA\r\n\tfor <bob@a.test>;\r\n\tTue, 24 Nov 2026 14:47:40 +0000\r\n',
    );
  });

  it('cannot be used to inject headers', () => {
    const line = formatReceivedHeader({ fromHelo: 'evil\r\nBcc: victim@x.test', fromHost: 'a)(b', fromIp: '127.0.0.1', byHost: 'mx', protocol: 'ESMTP', date });
    expect(line.split('\r\n').filter((l) => l && !l.startsWith('\t') && !l.startsWith('Received:'))).toEqual([]);
    expect(line).not.toContain('\nBcc');
  });
});
