import { describe, expect, it } from 'vitest';
import { countHeaders, getHeader, parseHeaders, splitHeaderBlock } from './headers.ts';

describe('headers', () => {
  it('finds the end of the header block', () => {
    expect(splitHeaderBlock(Buffer.from('A: 1\r\nB: 2\r\n\r\nbody'))).toEqual({ headerEnd: 14 });
    expect(splitHeaderBlock(Buffer.from('A: 1\r\nB: 2\r\n'))).toBeNull();
    expect(splitHeaderBlock(Buffer.from('\r\nbody'))).toEqual({ headerEnd: 2 });
  });

  it('unfolds, counts and finds fields, skipping garbage', () => {
    const headers = parseHeaders('Received: from a\r\n\tby b\r\nreceived: x\r\nnot a header\r\nSubject:  hi there \r\n');
    expect(countHeaders(headers, 'RECEIVED')).toBe(2);
    expect(headers[0].value).toBe('from a\tby b');
    expect(getHeader(headers, 'subject')).toBe('hi there');
    expect(getHeader(headers, 'Date')).toBeUndefined();
  });
});
