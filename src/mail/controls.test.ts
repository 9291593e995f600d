import { describe, expect, it } from 'vitest';
import { authservIdOf, editHeaderBlock } from './controls.ts';

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
