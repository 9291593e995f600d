import { describe, expect, it } from 'vitest';
import { countHeaders, getHeader, parseHeaders, splitHeaderBlock } from './headers.ts';

describe('splitHeaderBlock', () => {
  it.each([
    ['CRLF block', 'A: 1\r\nB: 2\r\n\r\nbody', 14],
    ['LF block', 'A: 1\nB: 2\n\nbody', 11],
    ['CRLF blank comes first', 'A: 1\r\n\r\nb\n\nc', 8],
    ['LF blank comes first', 'A: 1\n\nb\r\n\r\nc', 6],
    ['no headers (CRLF)', '\r\nbody', 2],
    ['no headers (LF)', '\nbody', 1],
    ['incomplete', 'A: 1\r\nB: 2\r\n', null],
    ['blank line split across chunks not yet here', 'A: 1\r\n\r', null],
    ['empty', '', null],
  ])('%s', (_name, input, expected) => {
    expect(splitHeaderBlock(Buffer.from(input))).toEqual(expected === null ? null : { headerEnd: expected });
  });

  it('survives random garbage', () => {
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.from(Array.from({ length: Math.floor(Math.random() * 40) }, () => [0x0d, 0x0a, 0x41, 0x3a, 0x20][Math.floor(Math.random() * 5)]));
      const split = splitHeaderBlock(buf);
      if (split) {
        expect(split.headerEnd).toBeGreaterThan(0);
        expect(split.headerEnd).toBeLessThanOrEqual(buf.length);
        expect(buf.subarray(0, split.headerEnd).toString('latin1')).toMatch(/(^|\n)\r?\n$/);
      }
    }
  });
});

describe('parseHeaders', () => {
  it('unfolds, counts and finds fields, skipping garbage', () => {
    const headers = parseHeaders('Received: from a\r\n\tby b\r\nreceived: x\r\nnot a header\r\nSubject:  hi there \r\n');
    expect(countHeaders(headers, 'RECEIVED')).toBe(2);
    expect(headers[0]).toEqual({ name: 'Received', value: 'from a\tby b', raw: 'Received: from a\r\n\tby b' });
    expect(getHeader(headers, 'subject')).toBe('hi there');
    expect(getHeader(headers, 'Date')).toBeUndefined();
    expect(countHeaders(headers, 'Date')).toBe(0);
  });

  it('stops at the blank line and ignores the body', () => {
    const headers = parseHeaders('Subject: a\r\n\r\nFrom: not@a.header\r\n');
    expect(headers.map((h) => h.name)).toEqual(['Subject']);
  });

  it.each([
    ['leading continuation line', ' orphan: x\r\nA: 1', ['A']],
    ['empty name', ': x\r\nA: 1', ['A']],
    ['space in name', 'Bad Name: x\r\nA: 1', ['A']],
    ['blank before colon (obsolete syntax)', 'Subject : x', ['Subject']],
    ['LF line ends', 'A: 1\nB: 2\n', ['A', 'B']],
    ['NUL and 8-bit garbage', '\0\xff\xfe\r\nA: 1', ['A']],
    ['empty value', 'A:\r\nB:   \r\n', ['A', 'B']],
  ])('%s', (_name, input, names) => {
    expect(parseHeaders(input).map((h) => h.name)).toEqual(names);
  });

  it('first match wins in getHeader', () => {
    expect(getHeader(parseHeaders('X: 1\r\nx: 2\r\n'), 'X')).toBe('1');
  });
});
