import { describe, expect, it } from 'vitest';
import { authservIdOf, decodeHeaderValue, editHeaderBlock, subjectHasTag } from './controls.ts';

describe('control headers', () => {
  const block = 'Received: from x\r\n\tby y\r\nSealgate-Secure: passphrase=a\r\n b\r\nSubject: [SECURE] Lab results\r\nsealgate-require: dane\r\nAuthentication-Results: gateway.sealgate.test; dkim=pass\r\nAuthentication-Results: (c) GATEWAY.sealgate.test 1; spf=pass\r\nAuthentication-Results: mx.other.test; dkim=fail\r\nX-Sealgate-Note: kept\r\n\r\n';

  it('drops every Sealgate-* field with its folds and the subject tag, keeping the rest byte for byte', () => {
    const { block: out, removed } = editHeaderBlock(block, { dropControls: true, subjectTag: '[secure]' });
    expect(removed).toEqual(['sealgate-secure', 'sealgate-require']);
    expect(out).toBe('Received: from x\r\n\tby y\r\nSubject: Lab results\r\nAuthentication-Results: gateway.sealgate.test; dkim=pass\r\nAuthentication-Results: (c) GATEWAY.sealgate.test 1; spf=pass\r\nAuthentication-Results: mx.other.test; dkim=fail\r\nX-Sealgate-Note: kept\r\n\r\n');
  });

  it('drops Authentication-Results with our authserv-id only (RFC 8601 §5)', () => {
    const { block: out } = editHeaderBlock(block, { ourAuthservId: 'gateway.sealgate.test' });
    expect(out).not.toMatch(/gateway\.sealgate\.test/i);
    expect(out).toContain('Authentication-Results: mx.other.test; dkim=fail\r\n');
    expect(out).toContain('Sealgate-Secure');
  });

  it('reads the authserv-id past comments and quotes', () => {
    expect(authservIdOf('Authentication-Results: (x) "Mx.Test" 1; none')).toBe('mx.test');
    expect(authservIdOf('Authentication-Results:\r\n mx.test;\r\n spf=pass')).toBe('mx.test');
    // Comments nest and hold quoted-pairs (RFC 5322 §3.2.2).
    expect(authservIdOf('Authentication-Results: ((x)) mx.test; dkim=pass')).toBe('mx.test');
    expect(authservIdOf('Authentication-Results: (a (b) \\) c)mx.test; dkim=pass')).toBe('mx.test');
    expect(authservIdOf('Authentication-Results: (open mx.test; dkim=pass')).toBe('');
  });

  it('leaves a block without controls untouched', () => {
    const plain = 'Subject: hi\r\nFrom: a@b.test\r\n\r\n';
    expect(editHeaderBlock(plain, { dropControls: true, subjectTag: '[secure]' }).block).toBe(plain);
  });
});

describe('the subject tag inside RFC 2047 encoded words (issue 10 item 4)', () => {
  const b = (text: string) => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

  it.each([
    // [raw Subject value, tagged]
    [b('[secure] Laborbefund für Müller'), true],
    ['=?utf-8?q?Laborbefund_f=C3=BCr_M=C3=BCller_=5Bsecure=5D?=', true],
    ['=?ISO-8859-1?Q?Befund_f=FCr_=5BSECURE=5D?=', true],
    [`${b('Laborbefund für')}\r\n ${b(' Müller [sec')}${b('ure]')}`, true],
    [b('Laborbefund für Müller'), false],
    ['=?x-unknown?B?W3NlY3VyZV0=?=', false], // a charset nobody knows stays as written
    ['[secure] plain', true],
  ])('%s → %s', (raw, tagged) => {
    expect(subjectHasTag(raw, '[secure]')).toBe(tagged);
  });

  it('takes the tag out and writes the rest back encoded; other fields stay byte for byte', () => {
    const block = `From: a@corp.test\r\nSubject: ${b('[secure] Laborbefund für Müller')}\r\nTo: b@corp.test\r\n\r\n`;
    const { block: out } = editHeaderBlock(block, { dropControls: true, subjectTag: '[secure]' });
    expect(out).toMatch(/^From: a@corp\.test\r\nSubject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=\r\nTo: b@corp\.test\r\n\r\n$/);
    const subject = /^Subject: (.*)$/m.exec(out)![1];
    expect(decodeHeaderValue(subject)).toBe('Laborbefund für Müller');
  });

  it('never lets a decoded line break out into the header block', () => {
    const block = 'Subject: =?us-ascii?Q?x_[secure]_y=0D=0ABcc:_evil@x.test?=\r\n\r\n';
    const { block: out } = editHeaderBlock(block, { subjectTag: '[secure]' });
    expect(out.split('\r\n').filter((l) => /^bcc:/i.test(l))).toEqual([]);
    expect(decodeHeaderValue(/^Subject: ([\s\S]*?)\r\n\r\n/.exec(out)![1])).toBe('x y\r\nBcc: evil@x.test');
  });
});
