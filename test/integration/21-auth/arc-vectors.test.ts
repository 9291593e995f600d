import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyInbound } from '../../../src/auth/index.ts';
import { DnsError, type Resolver } from '../../../src/dns/index.ts';
import { silentLogger } from '../../helpers/silent-logger.ts';

/*
 * The ARC test suite of the ARC spec authors (ValiMail/arc_test_suite,
 * tests/arc-draft-validation-tests.yml; test/fixtures/arc/README.md names the source) run
 * against the ARC verdict Sealgate writes at the end of DATA: each message goes through
 * auth's verifyInbound with the scenario's TXT records behind our Resolver interface, and the
 * `arc=` result of the Authentication-Results field we would prepend is compared with the
 * suite's cv. Vectors decided otherwise are in KNOWN_DIFFERENT (and the fixture README), each
 * with the verdict we give and why; each is held to that verdict, so a mailauth upgrade that
 * changes one fails here until the list and the README follow.
 */
interface ArcVector {
  name: string;
  spec: string;
  description: string;
  message: string;
  cv: 'Pass' | 'Fail' | 'None';
  comment?: string;
}
interface ArcSection {
  description: string;
  tests: ArcVector[];
  'txt-records': Record<string, string>;
}

/**
 * Vectors where our verdict is not the suite's, with the verdict we give and why (the table in
 * test/fixtures/arc/README.md). Keyed `section/name#n` (the suite repeats four names). The
 * first five are draft-era expectations that RFC 8617 / RFC 8301 changed: we follow the RFC.
 * The rest are syntax errors in a seal whose signature verifies over the bytes as sent,
 * which mailauth's lenient mode (the one verifyInbound uses) accepts or reads as no chain.
 */
const KNOWN_DIFFERENT: Record<string, { ours: string; why: string }> = {
  'Arc Message Signature Fields/ams_fields_a_sha1#1': { ours: 'fail', why: 'rsa-sha1 AMS: RFC 8617 4.1 allows rsa-sha256 only, RFC 8301 3.1' },
  'Arc Seal Fields/as_fields_a_sha1#1': { ours: 'fail', why: 'rsa-sha1 AS: RFC 8617 4.1 allows rsa-sha256 only, RFC 8301 3.1' },
  'Arc Seal Fields/as_fields_b_512#1': { ours: 'fail', why: '512-bit key: RFC 8301 3.2, at least 1024 bits (the suite notes it should not have to pass)' },
  'Arc Message Signature Fields/ams_fields_h_empty#1': { ours: 'fail', why: 'empty h= signs no From: RFC 6376 5.4 / 6.1.1, which the AMS follows (RFC 8617 4.1.2)' },
  'System/arc_set_duplicate#1': { ours: 'fail', why: 'two complete i=1 sets: RFC 8617 5.2 step 2 fails a chain with more than one field of a kind per instance' },
  'Arc Message Signature Fields/ams_fields_c_na#1': { ours: 'pass', why: 'AMS without c=: lenient mode retries relaxed/relaxed (the drafts\' default) after simple/simple fails' },
  'Arc Seal Fields/as_fields_t_na#1': { ours: 'pass', why: 'AS without t=: t= is not among the tags mailauth requires' },
  'Arc Seal Fields/as_fields_i_malformed1#1': { ours: 'none', why: 'i=0 on every field: no valid instance, read as no chain rather than a broken one' },
  'Arc Seal Fields/as_fields_i_malformed2#1': { ours: 'none', why: 'i=a on every field: no valid instance, read as no chain rather than a broken one' },
  'Arc Seal Format/as_format_inv_tag_key#1': { ours: 'pass', why: 'AS tag named _: lenient tag parsing skips it' },
  'Arc Seal Format/as_format_tags_dup#1': { ours: 'pass', why: 'AS with s= twice (same value): lenient tag parsing keeps one' },
  'Arc Seal Format/as_format_tags_key_case#1': { ours: 'pass', why: 'AS with S= for s=: lenient tag parsing ignores tag-name case' },
  'Arc Seal Format/as_format_tags_sc#1': { ours: 'pass', why: 'AS with an empty tag (;;): lenient tag parsing skips it' },
};

const suite = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../fixtures/arc/arc-draft-validation-tests.json'), 'utf8')) as ArcSection[];

/** The scenario's TXT records, nothing else: every other name does not exist. */
function fixtureResolver(records: Record<string, string>): Resolver {
  const txt = new Map(Object.entries(records).map(([name, value]) => [name.toLowerCase(), value]));
  const missing = (name: string) => new DnsError('nxdomain', 'ENOTFOUND', `${name} does not exist`);
  return {
    resolveTxt: async (name) => {
      const value = txt.get(name.toLowerCase().replace(/\.$/, ''));
      if (value === undefined) throw missing(name);
      return [[value]];
    },
    resolve4: async (name) => {
      throw missing(name);
    },
    resolve6: async (name) => {
      throw missing(name);
    },
    resolveMx: async (name) => {
      throw missing(name);
    },
  };
}

/** The YAML block's lines as an SMTP message: CRLF line ends. */
const wireBytes = (message: string) => Buffer.from(message.replace(/\r?\n/g, '\r\n'), 'latin1');

async function arcVerdict(section: ArcSection, vector: ArcVector): Promise<string> {
  const verdict = await verifyInbound(wireBytes(vector.message), { ip: '192.0.2.1', helo: 'mail.d1.example.org', mailFrom: 'jqd@d1.example.org' }, ['arc@dmarc.org'], {
    hostname: 'gateway.sealgate.test',
    resolver: fixtureResolver(section['txt-records']),
    enforceFor: () => false,
    logger: silentLogger,
  });
  return /\barc=([a-z]+)/i.exec(verdict.headers)?.[1]?.toLowerCase() ?? 'none';
}

describe('ARC test suite (ValiMail arc_test_suite, validation) against our ARC verdicts', () => {
  it('has the whole suite, and every known difference names a vector of it', () => {
    expect(suite).toHaveLength(8);
    expect(suite.reduce((n, s) => n + s.tests.length, 0)).toBe(156);
    const keys = new Set(suite.flatMap((s) => s.tests.map((t, i) => `${s.description}/${t.name}#${s.tests.slice(0, i + 1).filter((u) => u.name === t.name).length}`)));
    for (const key of Object.keys(KNOWN_DIFFERENT)) expect(keys.has(key), key).toBe(true);
    for (const [key, known] of Object.entries(KNOWN_DIFFERENT)) {
      const [section, rest] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      const vector = suite.find((s) => s.description === section)?.tests.find((t) => `${t.name}#1` === rest);
      expect(vector?.cv.toLowerCase(), `${key} is listed but the suite expects ${known.ours} too`).not.toBe(known.ours);
    }
  });

  for (const section of suite) {
    describe(section.description, () => {
      const seen = new Map<string, number>();
      for (const vector of section.tests) {
        const n = (seen.get(vector.name) ?? 0) + 1;
        seen.set(vector.name, n);
        const key = `${section.description}/${vector.name}#${n}`;
        const expected = vector.cv.toLowerCase();
        it(`${vector.name}${n > 1 ? ` (#${n})` : ''}: ${vector.description} → ${expected}`, async () => {
          const got = await arcVerdict(section, vector);
          const known = KNOWN_DIFFERENT[key];
          // A known difference is held to our documented verdict, so any change shows up here.
          if (known) expect(got, `${key}: ${known.why}; the verdict changed, update KNOWN_DIFFERENT and the README`).toBe(known.ours);
          else expect(got, `${key}: got ${got}`).toBe(expected);
        });
      }
    });
  }
});
