import { describe, expect, it } from 'vitest';
import { FRAME_CSP, FRAME_SANDBOX, frameDocument } from './frame.ts';

describe('frameDocument', () => {
  it('wraps a sanitised body in a document under its own CSP', () => {
    const doc = frameDocument('<p>x</p>');
    expect(doc).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:; style-src &#39;unsafe-inline&#39;; base-uri &#39;none&#39;; form-action &#39;none&#39;">`);
    expect(doc).toContain('<body><p>x</p></body>');
  });

  it('never lets the frame run scripts', () => {
    expect(FRAME_SANDBOX).not.toContain('allow-scripts');
    expect(FRAME_CSP).not.toMatch(/script-src/);
    expect(FRAME_CSP).toMatch(/default-src 'none'/);
    expect(FRAME_CSP).toMatch(/sandbox [^;]*allow-same-origin/);
    expect(FRAME_CSP).not.toMatch(/sandbox [^;]*allow-scripts/);
  });
});
