/**
 * `sealgate keys …` as an admin uses it (issue 11 "CLI"), the real command in child processes:
 * generate prints the fingerprint and the WKD file, and GnuPG imports the exported key; a key
 * made by GnuPG and an S/MIME certificate made by openssl are imported; discover finds a key
 * in a WKD served over HTTPS (test CA) on 127.0.0.1 with names from a real dnsmasq; every
 * change is in the audit log.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { wkdLocation } from '../../../src/e2e/index.ts';
import { createTestCa } from '../../helpers/ca.ts';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { tempDir } from '../../helpers/ports.ts';
import { startWkdServer, type WkdServer } from '../../helpers/wkd-server.ts';
import { sealgate } from './run-cli.ts';

vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });
const run = promisify(execFile);

describe('sealgate keys', () => {
  const temp = tempDir('cli-keys');
  const cwd = path.join(temp.dir, 'site');
  const gnupg = path.join(temp.dir, 'gnupg');
  let dns: DnsServer;
  let server: WkdServer;
  const gpg = (...args: string[]) => run('gpg', ['--homedir', gnupg, '--batch', '--no-tty', ...args], { encoding: 'buffer' as BufferEncoding, maxBuffer: 1 << 20 }) as unknown as Promise<{ stdout: Buffer; stderr: Buffer }>;
  const cli = (...args: string[]) => sealgate(cwd, args);

  beforeAll(async () => {
    mkdirSync(cwd, { recursive: true });
    mkdirSync(gnupg, { recursive: true, mode: 0o700 });
    const ca = await createTestCa(temp.dir);
    server = await startWkdServer(ca, ['openpgpkey.partner.test']);
    dns = await startDns({ a: [{ name: 'openpgpkey.partner.test', ip: '127.0.0.1' }] });
    const config = { dataDir: 'data', log: { level: 'silent' }, delivery: { dnsServers: dns.servers, extraCaFiles: [ca.caCertPath] }, e2e: { wkd: { port: server.port } } };
    writeFileSync(path.join(cwd, 'sealgate.json'), JSON.stringify(config));
    expect((await cli('init')).code).toBe(0);
  });

  afterAll(async () => {
    server?.close();
    await dns?.stop();
    // quick-gen-key started an agent for this home: stop it before its folder goes.
    await run('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent']).catch(() => undefined);
    temp.cleanup();
  });

  it('generates a key, says what to publish, and GnuPG imports the exported key', async () => {
    const wkdDir = path.join(temp.dir, 'wkd');
    const made = await cli('keys', 'generate', 'alice@corp.test', '--name', 'Alice', '--wkd-dir', wkdDir);
    expect(made.code, made.stderr).toBe(0);
    const fingerprint = /fingerprint: ([0-9A-F]{40})/.exec(made.stdout)?.[1];
    expect(fingerprint).toBeDefined();
    const where = wkdLocation('alice@corp.test');
    expect(made.stdout).toContain(`https://openpgpkey.corp.test/.well-known/openpgpkey/corp.test/hu/${where.hash}?l=alice`);
    const armored = await cli('keys', 'export', 'alice@corp.test');
    expect(armored.stdout).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(armored.stdout).not.toContain('PRIVATE');
    writeFileSync(path.join(temp.dir, 'alice.asc'), armored.stdout);
    await gpg('--import', path.join(temp.dir, 'alice.asc'));
    const listed = (await gpg('--with-colons', '--list-keys', 'alice@corp.test')).stdout.toString();
    expect(listed).toContain(`fpr:::::::::${fingerprint}:`);
    expect(listed).toMatch(/uid:.*Alice <alice@corp\.test>/);
    // The WKD file is the binary key: gpg reads it as the same key.
    const wkdFile = path.join(wkdDir, '.well-known/openpgpkey/corp.test/hu', where.hash);
    const shown = (await gpg('--with-colons', '--show-keys', wkdFile)).stdout.toString();
    expect(shown).toContain(`fpr:::::::::${fingerprint}:`);
    const json = JSON.parse((await cli('keys', 'list', '--json')).stdout) as { owner: string; address: string; fingerprint: string }[];
    expect(json).toEqual([expect.objectContaining({ owner: 'user', address: 'alice@corp.test', fingerprint: fingerprint!.toLowerCase() })]);
  });

  it('imports a key made by GnuPG and an S/MIME certificate made by openssl', async () => {
    await gpg('--passphrase', '', '--quick-gen-key', 'Bob <bob@other.test>', 'ed25519', 'sign,cert', 'never');
    const bobFile = path.join(temp.dir, 'bob.asc');
    writeFileSync(bobFile, (await gpg('--armor', '--export', 'bob@other.test')).stdout);
    const imported = await cli('keys', 'import', bobFile, '--json');
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual([expect.objectContaining({ owner: 'correspondent', source: 'imported', address: 'bob@other.test' })]);
    // Signing-only: held, but not used to encrypt, and `show` says why.
    const show = JSON.parse((await cli('keys', 'show', 'bob@other.test', '--json')).stdout) as { used: { openpgp: string | null }; keys: { notUsedBecause: string | null }[] };
    expect(show.used.openpgp).toBeNull();
    expect(show.keys[0].notUsedBecause).toMatch(/cannot encrypt/);

    const key = path.join(temp.dir, 'carol.key');
    const crt = path.join(temp.dir, 'carol.crt');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=Carol', '-addext', 'subjectAltName=email:carol@corp.test', '-addext', 'keyUsage=critical,digitalSignature,keyAgreement', '-keyout', key, '-out', crt]);
    const smime = await cli('keys', 'import', crt, '--key', key, '--json');
    expect(smime.code, smime.stderr).toBe(0);
    expect(JSON.parse(smime.stdout)).toEqual([expect.objectContaining({ owner: 'user', kind: 'smime', address: 'carol@corp.test' })]);
    const exported = await cli('keys', 'export', 'carol@corp.test');
    expect(exported.stdout.trim()).toBe(readFileSync(crt, 'utf8').trim());
    const wrongKey = path.join(temp.dir, 'other.key');
    await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', wrongKey]);
    const refused = await cli('keys', 'import', crt, '--key', wrongKey);
    expect(refused.code).toBe(65);
    expect(refused.stderr).toContain('is not the private key of the certificate');
  });

  it('discovers a key in WKD over HTTPS, then answers from the cache', async () => {
    await gpg('--passphrase', '', '--quick-gen-key', 'Dan <dan@partner.test>', 'future-default', 'default', 'never');
    const dan = (await gpg('--export', 'dan@partner.test')).stdout;
    const danFpr = /fpr:::::::::([0-9A-F]{40}):/.exec((await gpg('--with-colons', '--list-keys', 'dan@partner.test')).stdout.toString())![1];
    server.served.set(`openpgpkey.partner.test${wkdLocation('dan@partner.test').advancedPath}`, dan);
    const found = await cli('keys', 'discover', 'dan@partner.test', '--json');
    expect(found.code, found.stderr).toBe(0);
    const report = JSON.parse(found.stdout) as { steps: { source: string; outcome: string; fromCache: boolean }[]; found: { fingerprint: string; source: string }[] };
    expect(report.steps).toEqual([expect.objectContaining({ source: 'wkd', outcome: 'found', fromCache: false })]);
    expect(report.found[0]).toMatchObject({ fingerprint: danFpr.toLowerCase(), source: 'wkd' });
    const cached = JSON.parse((await cli('keys', 'discover', 'dan@partner.test', '--json')).stdout) as typeof report;
    expect(cached.steps[0]).toMatchObject({ outcome: 'found', fromCache: true });
    const none = await cli('keys', 'discover', 'nobody@partner.test');
    expect(none.code).toBe(66);
    expect(none.stdout).toMatch(/wkd: none: .*HTTP 404/);
    const show = await cli('keys', 'show', 'dan@partner.test');
    expect(show.stdout).toContain(`used for dan@partner.test: OpenPGP ${danFpr.toLowerCase()}`);
  });

  it('deletes a key, and every change is in the audit log', async () => {
    const listed = JSON.parse((await cli('keys', 'list', 'bob@other.test', '--json')).stdout) as { fingerprint: string }[];
    expect((await cli('keys', 'delete', listed[0].fingerprint)).code).toBe(0);
    expect(JSON.parse((await cli('keys', 'list', 'bob@other.test', '--json')).stdout)).toEqual([]);
    expect((await cli('keys', 'delete', listed[0].fingerprint)).code).toBe(66);
    const audit = JSON.parse((await cli('audit', 'list', '--json')).stdout) as { action: string; actor: string; target: string }[];
    // init's emergency credential is an event too; these are the keys'.
    expect(audit.filter((e) => e.action.startsWith('keys.')).map((e) => [e.action, e.target])).toEqual([
      ['keys.generate', 'alice@corp.test'],
      ['keys.import', 'bob@other.test'],
      ['keys.import', 'carol@corp.test'],
      ['keys.delete', 'bob@other.test'],
    ]);
    expect(audit.every((e) => e.actor.startsWith('admin:'))).toBe(true);
  });
});
