import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkSecurityMemory } from '../linksec/index.ts';
import { openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { silentLogger } from '../../test/helpers/silent-logger.ts';
import { importCommand, MAX_IMPORT_BYTES } from './domain-import.ts';

const now = Date.UTC(2026, 11, 1);
const record = { domain: 'd.test', mxHost: 'mx.d.test', ip: '192.0.2.1', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', certSubject: 'CN=mx.d.test', certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: now - 1000 };

describe('domain import validation', () => {
  let current: TestStore | undefined;
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });

  async function attempt(content: string) {
    current ??= await openTestStore('sqlite');
    const file = path.join(current.dir, 'import.json');
    writeFileSync(file, content);
    const errors: string[] = [];
    const lines: string[] = [];
    const code = await importCommand(new LinkSecurityMemory(current.store), silentLogger, file, { now, out: (l) => lines.push(l), err: (l) => errors.push(l) });
    return { code, error: errors.join('\n'), lines };
  }

  it.each([
    ['a file over the size limit', `[${' '.repeat(MAX_IMPORT_BYTES)}]`, /at most 4194304 bytes/],
    ['not JSON', '{', /not JSON/],
    ['an unknown field', JSON.stringify([{ ...record, extra: 1 }]), /Unrecognized key/i],
    ['a level the evidence does not earn', JSON.stringify([{ ...record, certValid: false, level: 'tls-verified' }]), /says tls-verified, but the evidence earns tls/],
    ['an unknown level', JSON.stringify([{ ...record, level: 'super' }]), /record 0\.level/],
    ['a NUL in an error text', JSON.stringify([{ ...record, error: 'x\u0000y' }]), /printable ASCII/],
    ['an IP that is not one', JSON.stringify([{ ...record, ip: '999.1.1.1' }]), /not an IP address/],
    ['a hold longer than a year', JSON.stringify([{ ...record, expiresAt: now + 400 * 86_400_000 }]), /at most a year/],
    ['a certificate without TLS', JSON.stringify([{ ...record, tlsVersion: null }]), /needs a TLS session/],
  ])('refuses %s and imports nothing', async (_what, content, message) => {
    const result = await attempt(content);
    expect(result.code).toBe(65);
    expect(result.error).toMatch(message);
    expect(await new LinkSecurityMemory(current!.store).list()).toEqual([]);
  });

  it('imports a record from another site, with the hold it had there', async () => {
    const result = await attempt(JSON.stringify([{ ...record, domain: 'D.Test.', level: 'tls-verified', expiresAt: now + 3_600_000 }]));
    expect(result).toMatchObject({ code: 0, lines: ['imported 1 record(s)'] });
    expect(await new LinkSecurityMemory(current!.store).list()).toMatchObject([{ domain: 'd.test', level: 'tls-verified', expiresAt: now + 3_600_000 }]);
  });

  it('does not let a weaker record for a new MX name lower what the domain proved, without --force', async () => {
    await attempt(JSON.stringify([{ ...record, level: 'tls-verified', expiresAt: now + 3_600_000 }]));
    const plain = { ...record, mxHost: 'mx2.d.test', starttlsOffered: false, tlsVersion: null, cipher: null, certSubject: null, certValid: false, level: 'none', expiresAt: now + 3_600_000 };
    const result = await attempt(JSON.stringify([plain]));
    expect(result.error).toBe('');
    expect(result.lines[0]).toMatch(/imported 0 record\(s\); kept 1/);
    expect((await new LinkSecurityMemory(current!.store).list()).map((r) => r.mxHost)).toEqual(['mx.d.test']);
  });
});
