import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSecurityMemory } from '../../src/linksec/index.ts';
import { tempDir } from '../helpers/ports.ts';
import { openTestStore, type TestStore } from '../helpers/stores.ts';

/*
 * Issue 8 item 18: `sealgate domain import` overwrote unconditionally. The attacker hands the
 * admin an "export from a partner site": a record dated 1970 over a newer one, `none` for a
 * DANE domain, a domain name with CR/LF, a year-5138 timestamp. Each goes through the real
 * CLI against the store a gateway would use; the store must still hold what was proved.
 */
const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../src/sealgate.ts');
const now = Date.now();

const dane = {
  domain: 'dane.test',
  mxHost: 'mx.dane.test',
  ip: '127.0.0.21',
  starttlsOffered: true,
  tlsVersion: 'TLSv1.3',
  cipher: 'TLS_AES_256_GCM_SHA384',
  certSubject: 'CN=mx.dane.test',
  certValid: true,
  certError: null,
  requireTlsAdvertised: false,
  error: null,
  mtaSts: null,
  dane: 'matched',
  at: now - 3_600_000,
};
const stripped = { ...dane, starttlsOffered: false, tlsVersion: null, cipher: null, certSubject: null, certValid: false, dane: null };

describe('i8-18 hostile `domain import` files', () => {
  const temp = tempDir('i8-18');
  let db: TestStore;
  let memory: LinkSecurityMemory;
  let configFile: string;

  const importFile = async (name: string, content: string | Buffer, ...flags: string[]) => {
    const file = path.join(temp.dir, name);
    writeFileSync(file, content);
    try {
      const { stdout, stderr } = await run(process.execPath, [MAIN, 'domain', 'import', file, ...flags, '--config', configFile], { timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const stored = async () => (await memory.list('dane.test')).map((r) => ({ mxHost: r.mxHost, level: r.level, at: r.at }));

  beforeAll(async () => {
    db = await openTestStore('sqlite');
    memory = new LinkSecurityMemory(db.store);
    await memory.record(dane as never);
    configFile = path.join(temp.dir, 'sealgate.json');
    // The CLI opens the very database file the test store holds (as an admin's CLI opens the gateway's).
    writeFileSync(configFile, JSON.stringify({ hostname: 'gateway.sealgate.test', dataDir: db.dir, store: { url: 'sqlite:test.db' }, log: { level: 'warn' } }));
    // As an admin would: the CLI refuses to work on a data dir without a master key.
    await run(process.execPath, [MAIN, 'init', '--config', configFile], { timeout: 60_000 });
  });
  afterAll(async () => {
    await db?.cleanup();
    temp.cleanup();
  });

  it('refuses malformed records whole, keeps what was proved, and lowers it only with --force, audited', async () => {
    const proved = [{ mxHost: 'mx.dane.test', level: 'dane', at: dane.at }];
    expect(await stored()).toEqual(proved);
    const [crlf, future, ancient, downgrade] = await Promise.all([
      importFile('crlf.json', JSON.stringify([{ ...dane, domain: 'dane.test\r\nX-Injected: yes' }])),
      importFile('future.json', JSON.stringify([{ ...dane, at: Date.UTC(5138, 0, 1) }])),
      importFile('ancient.json', JSON.stringify([{ ...stripped, at: 1000 }])),
      // Well-formed and recent, but weaker than what was proved: kept, not lowered.
      importFile('none.json', JSON.stringify([{ ...stripped, at: now - 60_000 }])),
    ]);
    expect(crlf).toMatchObject({ code: 65, stderr: expect.stringMatching(/record 0\.domain: not a DNS host name; nothing imported/) });
    expect(future).toMatchObject({ code: 65, stderr: expect.stringMatching(/record 0\.at: dated in the future/) });
    expect(ancient).toMatchObject({ code: 65, stderr: expect.stringMatching(/record 0\.at: dated before 2020/) });
    expect(downgrade).toMatchObject({ code: 0, stdout: expect.stringMatching(/imported 0 record\(s\); kept 1 stronger/) });
    expect(await stored()).toEqual(proved);
    expect(await memory.list('dane.test\r\nx-injected: yes')).toEqual([]);

    const forced = await importFile('none.json', JSON.stringify([{ ...stripped, at: now - 60_000 }]), '--force');
    expect(forced).toMatchObject({ code: 0, stdout: expect.stringMatching(/imported 1 record/) });
    const audit = forced.stderr.split('\n').find((line) => line.includes('"audit":true'));
    expect(JSON.parse(audit!)).toMatchObject({ audit: true, action: 'domain.import.force', domain: 'dane.test', mxHost: 'mx.dane.test', from: 'dane', to: 'none' });
    expect(await stored()).toEqual([{ mxHost: 'mx.dane.test', level: 'none', at: now - 60_000 }]);
  });
});
