import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestCa, type IssuedCert } from '../../helpers/ca.ts';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { freePort, tempDir } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../../helpers/recording-smtp.ts';

/*
 * `sealgate domain check` as a child process against real peers on loopback: dnsmasq serves
 * the MX records, recording receivers offer STARTTLS with test-CA, self-signed and no
 * certificates, Postfix answers as a real MTA, 127.0.0.33 refuses connections and a silent
 * listener never greets. Every MX of one domain shares a port, so each check names the
 * destination port through the environment (SEALGATE_DELIVERY__PORT), as an admin could.
 */
const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../../src/sealgate.ts');
const DOWN = '127.0.0.33';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describeWithPeers(['root', 'dnsmasq', 'openssl', 'postfix'], 'sealgate domain check against real peers', () => {
  const temp = tempDir('domain-check');
  const configFile = path.join(temp.dir, 'sealgate.json');
  let dns: DnsServer;
  let good: RecordingSmtp;
  let selfSigned: RecordingSmtp;
  let plain: RecordingSmtp;
  let postfix: PostfixInstance;
  let silent: net.Server;
  let silentPort: number;
  let postfixPort: number;
  let leaf: IssuedCert;
  let caPem: string;

  async function runCheck(port: number, domain: string, ...args: string[]): Promise<Result> {
    try {
      const { stdout, stderr } = await run(process.execPath, [MAIN, 'domain', 'check', domain, ...args, '--config', configFile], { timeout: 60_000, env: { ...process.env, SEALGATE_DELIVERY__PORT: String(port) } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /*
   * Each check is a process of its own (about 2 s of CPU to start). beforeAll runs the first
   * alone (it creates the database), then starts the rest two at a time; each test awaits its own.
   */
  const results = new Map<string, Promise<Result>>();
  const check = (...args: string[]) => results.get(args.join(' ')) ?? Promise.reject(new Error(`\`domain check ${args.join(' ')}\` was not started`));
  function twoAtATime(): <T>(job: () => Promise<T>) => Promise<T> {
    let active = 0;
    const waiting: (() => void)[] = [];
    return (job) =>
      new Promise((resolve, reject) => {
        const go = () => {
          active++;
          job()
            .then(resolve, reject)
            .finally(() => {
              active--;
              waiting.shift()?.();
            });
        };
        if (active < 2) go();
        else waiting.push(go);
      });
  }

  const fingerprint = (der: Buffer) => [...createHash('sha256').update(der).digest()].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

  beforeAll(async () => {
    const ca = await createTestCa(temp.dir);
    caPem = ca.caCertPem;
    leaf = await ca.issue(['mx1.good.check.test']);
    const own = await ca.issue(['mx.selfsigned.check.test'], { selfSigned: true });
    const postfixCert = await ca.issue(['mx.postfix.check.test']);
    // The receiver sends its chain (leaf, then the CA), as a well-configured MTA does.
    good = await startRecordingSmtp({ tls: { key: leaf.keyPem, cert: leaf.certPem + caPem }, extensions: ['REQUIRETLS'] });
    selfSigned = await startRecordingSmtp({ tls: { key: own.keyPem, cert: own.certPem } });
    plain = await startRecordingSmtp({});
    silent = net.createServer(() => undefined); // accepts, never greets
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as net.AddressInfo).port;
    postfixPort = await freePort('127.0.0.36');
    postfix = await startPostfix({ ip: '127.0.0.36', port: postfixPort, name: 'mx.postfix.check.test', mode: 'accept', domains: ['postfix.check.test'], tls: postfixCert });
    dns = await startDns({
      mx: [
        { domain: 'good.check.test', host: 'mx1.good.check.test', pref: 10 },
        { domain: 'mixed.check.test', host: 'mx.down.check.test', pref: 10 },
        { domain: 'mixed.check.test', host: 'mx1.good.check.test', pref: 20 },
        { domain: 'down.check.test', host: 'mx.down.check.test', pref: 10 },
        { domain: 'down.check.test', host: 'mx2.down.check.test', pref: 20 },
        { domain: 'wrongname.check.test', host: 'mx.wrongname.check.test', pref: 10 },
        { domain: 'selfsigned.check.test', host: 'mx.selfsigned.check.test', pref: 10 },
        { domain: 'plain.check.test', host: 'mx.plain.check.test', pref: 10 },
        { domain: 'silent.check.test', host: 'mx.silent.check.test', pref: 10 },
        { domain: 'postfix.check.test', host: 'mx.postfix.check.test', pref: 10 },
      ],
      a: [
        { name: 'mx1.good.check.test', ip: '127.0.0.1' },
        { name: 'mx.down.check.test', ip: DOWN },
        { name: 'mx2.down.check.test', ip: DOWN },
        { name: 'mx.wrongname.check.test', ip: '127.0.0.1' },
        { name: 'mx.selfsigned.check.test', ip: '127.0.0.1' },
        { name: 'mx.plain.check.test', ip: '127.0.0.1' },
        { name: 'mx.silent.check.test', ip: '127.0.0.1' },
        { name: 'mx.postfix.check.test', ip: '127.0.0.36' },
      ],
    });
    const dataDir = path.join(temp.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(
      configFile,
      JSON.stringify({
        hostname: 'checker.sealgate.test',
        dataDir,
        // No validating resolver: DNSSEC (and so DANE) cannot be checked, and the output must say so.
        delivery: { dnsServers: dns.servers, extraCaFiles: [ca.caCertPath], connectTimeoutMs: 3000, commandTimeoutMs: 1500, ipFamilies: [4], mtaSts: { enabled: false } },
        log: { level: 'warn' },
      }),
    );
    const init = await run(process.execPath, [MAIN, 'init', '--config', configFile]);
    expect(init.stdout).toMatch(/master key/);
    const checks: [number, string, ...string[]][] = [
      [good.port, 'good.check.test'],
      [good.port, 'good.check.test', '--json'],
      [good.port, 'down.check.test'],
      [good.port, 'down.check.test', '--json'],
      [good.port, 'mixed.check.test'],
      [silentPort, 'silent.check.test'],
      [good.port, 'wrongname.check.test'],
      [selfSigned.port, 'selfsigned.check.test'],
      [plain.port, 'plain.check.test'],
      [postfixPort, 'postfix.check.test'],
      [good.port, 'nosuch.check.test'],
    ];
    const [first, ...rest] = checks;
    const [firstPort, ...firstArgs] = first;
    const firstRun = runCheck(firstPort, ...firstArgs);
    results.set(firstArgs.join(' '), firstRun);
    await firstRun;
    const limit = twoAtATime();
    for (const [port, domain, ...args] of rest) results.set([domain, ...args].join(' '), limit(() => runCheck(port, domain, ...args)));
  });

  afterAll(async () => {
    await Promise.allSettled(results.values());
    await Promise.all([good?.stop(), selfSigned?.stop(), plain?.stop(), postfix?.stop(), dns?.stop(), new Promise((r) => (silent ? silent.close(r) : r(undefined)))]);
    temp.cleanup();
  });

  it('shows the certificate chain with fingerprints, the name that matched and the Verified verdict; exit 0', async () => {
    const r = await check('good.check.test');
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text).toMatch(/^good\.check\.test: 1 MX host\(s\), all reached; every MX reaches at least level tls-verified$/m);
    expect(text).toMatch(new RegExp(`mx1\\.good\\.check\\.test \\(priority 10\\) \\[127\\.0\\.0\\.1\\]:${good.port}  level tls-verified`));
    expect(text).toMatch(/greeting: 220 /);
    expect(text).toMatch(/STARTTLS offered; TLSv1\.3 TLS_/);
    const leafCert = new X509Certificate(leaf.certPem);
    const caCert = new X509Certificate(caPem);
    expect(text).toContain('  0 subject: CN=mx1.good.check.test');
    expect(text).toContain('    issuer:  CN=Sealgate Test CA');
    expect(text).toContain('  1 subject: CN=Sealgate Test CA');
    expect(text).toContain(`SHA-256 fingerprint:      ${leafCert.fingerprint256}`);
    expect(text).toContain(`SHA-256 fingerprint:      ${caCert.fingerprint256}`);
    expect(text).toContain(`SPKI SHA-256 fingerprint: ${fingerprint(leafCert.publicKey.export({ type: 'spki', format: 'der' }))}`);
    const validTo = `${leafCert.validToDate.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
    expect(text).toContain(`to ${validTo}`);
    expect(text).toMatch(/name: mx1\.good\.check\.test matched by mx1\.good\.check\.test/);
    expect(text).toMatch(/verification: Verified TLS connection \(chain trusted, name matches\)/);
    expect(text).toMatch(/REQUIRETLS advertised/);
    expect(text).toMatch(/recorded: level tls-verified, holds until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    // No DANE verdict without a validating resolver.
    expect(text).toMatch(/DNSSEC: DNSSEC not checked \(no validating resolver configured: delivery\.dnssecResolvers\)/);
    expect(text).toMatch(/DANE: not checked: DNSSEC not checked \(no validating resolver configured: delivery\.dnssecResolvers\)/);
    expect(text).not.toMatch(/no usable TLSA/);
    expect(text).not.toMatch(/error:/);
  });

  it('--json carries the same facts', async () => {
    const r = await check('good.check.test', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const leafCert = new X509Certificate(leaf.certPem);
    expect(report).toMatchObject({ domain: 'good.check.test', mxCount: 1, reachedCount: 1, level: 'tls-verified', exitCode: 0, dnssec: { checked: false } });
    const [mx] = report.mx;
    expect(mx).toMatchObject({ host: 'mx1.good.check.test', ip: '127.0.0.1', port: good.port, reached: true, unreachable: [], starttlsOffered: true, requireTlsAdvertised: true, errors: [], dane: { status: 'dnssec-not-checked' } });
    expect(mx.tls.verdict).toBe('Verified');
    expect(mx.tls.name).toEqual({ checked: 'mx1.good.check.test', matchedBy: 'mx1.good.check.test', certificateNames: ['mx1.good.check.test'] });
    expect(mx.tls.chain).toHaveLength(2);
    expect(mx.tls.chain[0]).toMatchObject({ subject: 'CN=mx1.good.check.test', issuer: 'CN=Sealgate Test CA', sha256: leafCert.fingerprint256, validTo: leafCert.validToDate.toISOString() });
    expect(mx.recorded).toMatchObject({ level: 'tls-verified', kept: false });
  });

  it('an unreachable MX is reported as unreachable, with the connect error on its own line; none reached: exit 69', async () => {
    const r = await check('down.check.test');
    expect(r.code).toBe(69);
    expect(r.stdout).toMatch(/^down\.check\.test: 2 MX host\(s\), none could be reached$/m);
    expect(r.stdout).toContain(`      [${DOWN}]:${good.port} unreachable: connect ECONNREFUSED ${DOWN}:${good.port}`);
    expect(r.stdout).not.toMatch(/REQUIRETLS|every MX reaches|level none/);
    const json = JSON.parse((await check('down.check.test', '--json')).stdout);
    expect(json).toMatchObject({ reachedCount: 0, level: null, exitCode: 69 });
    expect(json.mx[0]).toMatchObject({ reached: false, ip: null, unreachable: [{ ip: DOWN, error: `connect ECONNREFUSED ${DOWN}:${good.port}` }], recorded: null });
  });

  it('some MX unreachable: the others are still checked, exit 75', async () => {
    const r = await check('mixed.check.test');
    expect(r.code).toBe(75);
    expect(r.stdout).toMatch(/^mixed\.check\.test: 2 MX host\(s\), 1 unreachable; the 1 reached reach at least level tls-verified$/m);
    expect(r.stdout).toMatch(/mx\.down\.check\.test \(priority 10\)\n {6}\[127\.0\.0\.33\]:\d+ unreachable: connect ECONNREFUSED/);
    expect(r.stdout).toMatch(/verification: Verified TLS connection/);
  });

  it('an MX that accepts the connection but never greets gives no SMTP session: exit 69, the timeout on its own line', async () => {
    const r = await check('silent.check.test');
    expect(r.code).toBe(69);
    expect(r.stdout).toMatch(/^silent\.check\.test: 1 MX host\(s\), none could be reached$/m);
    expect(r.stdout).toMatch(new RegExp(`\\n {6}\\[127\\.0\\.0\\.1\\]:${silentPort} connected, but no SMTP session: .*no answer within 1500 ms\\n?`));
    expect(r.stdout).not.toMatch(/REQUIRETLS/);
  });

  it('a certificate for another name: Trusted, and the names it does carry', async () => {
    const r = await check('wrongname.check.test');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/level tls$/m);
    expect(r.stdout).toMatch(/name: mx\.wrongname\.check\.test NOT matched \(the certificate names mx1\.good\.check\.test\)/);
    expect(r.stdout).toMatch(/verification: Trusted TLS connection \(chain trusted, but not issued for mx\.wrongname\.check\.test\)/);
  });

  it('a self-signed certificate: Untrusted, with the reason', async () => {
    const r = await check('selfsigned.check.test');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/name: mx\.selfsigned\.check\.test matched by mx\.selfsigned\.check\.test/);
    expect(r.stdout).toMatch(/verification: Untrusted TLS connection \(chain not trusted: DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  });

  it('no STARTTLS: plain text said plainly', async () => {
    const r = await check('plain.check.test');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/level none\n {6}greeting: 220 .*\n {6}no STARTTLS offered: mail to this MX goes in plain text/);
    expect(r.stdout).toMatch(/REQUIRETLS not advertised/);
  });

  it('Postfix as the MX: its greeting, its certificate, Verified', async () => {
    const r = await check('postfix.check.test');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/greeting: 220 .*ESMTP/);
    expect(r.stdout).toMatch(/0 subject: CN=mx\.postfix\.check\.test/);
    expect(r.stdout).toMatch(/verification: Verified TLS connection/);
  });

  it('a domain that does not exist: exit 68 (EX_NOHOST) with the reply', async () => {
    const r = await check('nosuch.check.test');
    expect(r.code).toBe(68);
    expect(r.stdout).toMatch(/nosuch\.check\.test: 550 5\.1\.2 .*does not exist/);
  });
});
