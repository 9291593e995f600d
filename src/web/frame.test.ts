import { describe, expect, it } from 'vitest';
import { frameDocument } from './frame.ts';

describe('frameDocument', () => {
  it('wraps a sanitised body in a document under its own CSP', () => {
    const doc = frameDocument('<p>x</p>');
    expect(doc).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:; style-src &#39;unsafe-inline&#39;">`);
    expect(doc).toContain('<body><p>x</p></body>');
  });
});
