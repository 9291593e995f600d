import { describe, expect, it } from 'vitest';
import { anonymizeHeaderBlock, makePseudonym } from './anonymity.ts';
import { formatAnonymousReceivedHeader } from './received.ts';

const client = { ip: '127.0.0.5', helo: 'secret-laptop.corp.example', reverseName: 'dsl-5.isp.example' };
const block = (...lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

describe('anonymizeHeaderBlock', () => {
  it('removes the named fields, the client\'s own Received lines and fields that mention it, and keeps the authored ones byte for byte', () => {
    const input = block(
      'Received: from [10.0.0.7] by secret-laptop.corp.example;',
      '\tThu, 3 Dec 2026 09:00:00 +0000',
      'From: Alice <alice@corp.example>',
      'To: bob@elsewhere.example',
      'Subject: hello from secret-laptop.corp.example',
      'X-Mailer: Distinctive Mailer 9.1',
      'user-agent: Mutt/2.2',
      'X-Originating-IP: [127.0.0.5]',
      'X-Report-Abuse: see dsl-5.isp.example',
      'X-Trace: 127.0.0.50 is another host',
      'X-Custom-Leak: fine',
    );
    const { block: out, removed } = anonymizeHeaderBlock(input, { client, hostname: 'mx.sealgate.test', stripHeaders: ['X-Custom-Leak'] });
    expect(out).toBe(block('From: Alice <alice@corp.example>', 'To: bob@elsewhere.example', 'Subject: hello from secret-laptop.corp.example', 'X-Trace: 127.0.0.50 is another host'));
    expect(removed).toEqual(['received', 'x-mailer', 'user-agent', 'x-originating-ip', 'x-report-abuse', 'x-custom-leak']);
  });

  it('replaces a Message-ID that names the client with one of ours', () => {
    const { block: out } = anonymizeHeaderBlock(block('Message-ID: <1234.5678@secret-laptop.corp.example>', 'From: a@corp.example'), { client, hostname: 'mx.sealgate.test' });
    expect(out).toMatch(/^Message-ID: <[A-Za-z0-9_-]{16}@mx\.sealgate\.test>\r\nFrom: a@corp\.example\r\n\r\n$/);
  });

  it('keeps a Message-ID that does not, and leaves a clean block untouched', () => {
    const input = block('Message-ID: <abc@corp.example>', 'From: a@corp.example');
    expect(anonymizeHeaderBlock(input, { client, hostname: 'mx' })).toEqual({ block: input, removed: [] });
  });

  it('finds an IPv4-mapped client address and an address-literal HELO', () => {
    const { removed } = anonymizeHeaderBlock(block('X-A: 192.0.2.9', 'X-B: [198.51.100.2]', 'X-C: nothing'), { client: { ip: '::ffff:192.0.2.9', helo: '[198.51.100.2]' }, hostname: 'mx' });
    expect(removed).toEqual(['x-a', 'x-b']);
  });
});

describe('formatAnonymousReceivedHeader', () => {
  it('is an RFC 5321 trace line naming only the pseudonym, our host, the protocol and TLS', () => {
    const pseudonym = makePseudonym();
    expect(pseudonym).toMatch(/^anon-[0-9a-f]{16}$/);
    expect(makePseudonym()).not.toBe(pseudonym);
    const line = formatAnonymousReceivedHeader({ pseudonym, byHost: 'mx.sealgate.test', protocol: 'ESMTPSA', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, forRecipient: 'bob@a.test', date: new Date(Date.UTC(2026, 11, 3, 9, 0, 0)) });
    expect(line.toString('latin1')).toBe(
      `Received: from ${pseudonym}\r\n\tby mx.sealgate.test (Sealgate)\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n\twith ESMTPSA id ${pseudonym}\r\n\tfor <bob@a.test>;\r\n\tThu, 03 Dec 2026 09:00:00 +0000\r\n`,
    );
  });
});

describe('anonymizeHeaderBlock and the Message-ID host', () => {
  const options = { client: { ip: '127.0.0.5', helo: '[127.0.0.5]' }, hostname: 'mx.sealgate.test', senderDomains: ['bounce.corp.example'] };
  const idOf = (input: string) => /^Message-ID: (.*)$/m.exec(anonymizeHeaderBlock(input, options).block)?.[1];

  it("keeps an id in the From:, Sender: or envelope domain or ours; replaces one naming any other host or none", () => {
    for (const id of ['<a@corp.example>', '<a@CORP.example.>', '<b@list.example>', '<c@bounce.corp.example>', '<d@mx.sealgate.test>']) {
      expect(idOf(block(`Message-ID: ${id}`, 'From: "Alice" <alice@corp.example>', 'Sender: =?utf-8?Q?L?= <l@list.example>'))).toBe(id);
    }
    for (const id of ['<1.2@alice-laptop.home.lan>', '<1.2@laptop.corp.example>', '<1.2@[10.0.0.7]>', '<no-right>']) {
      expect(idOf(block(`Message-ID: ${id}`, 'From: alice@corp.example'))).toMatch(/^<[A-Za-z0-9_-]{16}@mx\.sealgate\.test>$/);
    }
  });
});
