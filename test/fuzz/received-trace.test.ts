import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTrace, formatReceivedHeader, parseReceived } from '../../src/mail/index.ts';
import { FUZZ_RUNS, FUZZ_TIMEOUT_MS } from './runs.ts';

/*
 * Issue 12: the header analysis reads strangers' text (pasted into the console, piped into
 * `sealgate analyze`). Whatever a Received field holds, it gives one hop per field in order,
 * never throws and never loops; and whatever our builder writes, it reads back.
 */
const CLAUSE_TEXT = fc.array(fc.constantFrom('from ', 'by ', 'with ', 'id ', 'for ', 'via ', 'tls ', '(', ')', '((', '"', '\\', '<', '>', '[', ']', ';', ' ', '\t', 'ESMTPS', 'TLSv1.3', 'using ', 'cipher ', 'version=', '127.0.0.1', '::1', 'x.test', '1 Jan 2024 00:00:00 +0000', '\u00e9', 'é'), { maxLength: 40 }).map((parts) => parts.join(''));

describe('the Received reader on any input', () => {
  it('gives one hop per field, oldest first, with a verdict, and never throws', () => {
    fc.assert(
      fc.property(fc.array(CLAUSE_TEXT, { maxLength: 8 }), (values) => {
        const analysis = analyzeTrace(values.map((v) => `Received: ${v}\r\n`).join(''));
        expect(analysis.hops).toHaveLength(values.length);
        expect(analysis.hops.map((h) => h.index)).toEqual(analysis.hops.map((_, i) => i + 1));
        expect(['tls-on-every-hop', 'tls-on-some-hops', 'not-knowable']).toContain(analysis.verdict);
        expect(analysis.tlsHops).toBeLessThanOrEqual(analysis.networkHops);
      }),
      { numRuns: FUZZ_RUNS },
    );
  }, FUZZ_TIMEOUT_MS);

  it('reads back what formatReceivedHeader writes, hostile names included', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.constantFrom('ESMTP', 'ESMTPS', 'ESMTPSA', 'ESMTPA'), fc.boolean(), (helo, protocol, tls) => {
        const header = formatReceivedHeader({ fromHelo: helo, fromIp: '192.0.2.1', byHost: 'mx.sealgate.test', protocol, tls: tls ? { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } : undefined, date: new Date(0) });
        const value = header.toString('latin1').replace(/^Received:\s*/, '').replace(/\r\n[ \t]+/g, ' ').trim();
        const hop = parseReceived(value);
        expect(hop).toMatchObject({ fromIp: '192.0.2.1', by: 'mx.sealgate.test', with: protocol, time: '1970-01-01T00:00:00.000Z' });
        expect(hop.tls).toEqual(tls ? { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } : null);
      }),
      { numRuns: FUZZ_RUNS },
    );
  }, FUZZ_TIMEOUT_MS);
});
