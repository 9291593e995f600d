import { describe, expect, it } from 'vitest';
import { withoutArcSet } from './listener.ts';

describe('the ARC set after inbound decryption', () => {
  it('drops the three ARC fields, folded lines and all, and keeps the verdict and the quarantine mark', () => {
    const fields = [
      'ARC-Seal: i=1; a=rsa-sha256; d=gw.test; s=sel;\r\n cv=none; b=AAAA\r\n',
      'ARC-Message-Signature: i=1; a=rsa-sha256; d=gw.test;\r\n\th=from:to; bh=BBBB; b=CCCC\r\n',
      'arc-authentication-results: i=1; gw.test; dkim=pass\r\n',
      'Authentication-Results: gw.test;\r\n dkim=pass header.d=sender.test\r\n',
      'Sealgate-Quarantine: DMARC quarantine for sender.test\r\n',
    ].join('');
    expect(withoutArcSet(fields)).toBe('Authentication-Results: gw.test;\r\n dkim=pass header.d=sender.test\r\nSealgate-Quarantine: DMARC quarantine for sender.test\r\n');
    expect(withoutArcSet('')).toBe('');
  });
});
