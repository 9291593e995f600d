import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { tempDir } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';

/*
 * Issue 10 item 1 (terminal injection): `sealgate domain check` prints the MX certificate's
 * subject and issuer, which whoever runs the MX writes. Node escapes C0 controls in a
 * certificate name (`\1B`) but passes C1 controls and bidi overrides through as UTF-8: U+009B
 * is CSI, which xterm and others obey as ESC [ (colours, cursor moves, clearing the screen),
 * and U+202E reorders what the admin reads. A hostile MX's certificate carries both, with an
 * OSC title sequence spelled with C1 (U+009D … U+009C); the CLI's stdout, read as bytes, must
 * hold none of them. Failed before the change: the bytes C2 9B, C2 9D and E2 80 AE reached stdout.
 */

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../src/sealgate.ts');
const CSI = '\u009b';
const OSC = '\u009d';
const ST = '\u009c';
const RLO = '\u202e';
const HOSTILE_CN = `mx.evil.test${CSI}2J${CSI}H${OSC}0;pwned${ST}${RLO}tset.elpmaxe\u2066\u200b`;
const HOSTILE_O = `Evil${CSI}31m Corp${CSI}0m`;

async function hostileCertificate(): Promise<{ certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: [{ CN: [HOSTILE_CN] }, { O: [HOSTILE_O] }], keys, signingAlgorithm: algorithm,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'mx.evil.test' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { certPem: `${cert.toString('pem')}\n`, keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n` };
}

/** Every byte sequence a terminal acts on or reorders by, other than LF and TAB. */
function terminalControls(bytes: Buffer): string[] {
  const found: string[] = [];
  for (const ch of bytes.toString('utf8')) {
    const cp = ch.codePointAt(0)!;
    const c0 = (cp < 0x20 && cp !== 0x0a && cp !== 0x09) || cp === 0x7f;
    const c1 = cp >= 0x80 && cp <= 0x9f;
    const bidi = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(ch);
    const invisible = /[\u200b\u2028\u2029\u2060-\u2064\ufeff]/u.test(ch);
    if (c0 || c1 || bidi || invisible) found.push(`U+${cp.toString(16).padStart(4, '0')}`);
  }
  return found;
}

describeWithPeers(['root', 'dnsmasq'], 'i10-01 a hostile MX certificate cannot drive the admin terminal', () => {
  const temp = tempDir('i10-01');
  const configFile = path.join(temp.dir, 'sealgate.json');
  let dns: DnsServer;
  let mx: RecordingSmtp;

  beforeAll(async () => {
    const cert = await hostileCertificate();
    mx = await startRecordingSmtp({ tls: { key: cert.keyPem, cert: cert.certPem } });
    dns = await startDns({ mx: [{ domain: 'evil.test', host: 'mx.evil.test', pref: 10 }], a: [{ name: 'mx.evil.test', ip: '127.0.0.1' }] });
    const dataDir = path.join(temp.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(configFile, JSON.stringify({
      hostname: 'checker.sealgate.test', dataDir,
      delivery: { dnsServers: dns.servers, connectTimeoutMs: 3000, commandTimeoutMs: 1500, ipFamilies: [4], mtaSts: { enabled: false } },
      log: { level: 'warn' },
    }));
    await run(process.execPath, [MAIN, 'init', '--config', configFile]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([mx?.stop(), dns?.stop()]);
    temp.cleanup();
  });

  it('domain check shows the certificate names with their controls made visible, and writes none of them', async () => {
    let stdout: Buffer;
    let stderr: Buffer;
    try {
      ({ stdout, stderr } = await run(process.execPath, [MAIN, 'domain', 'check', 'evil.test', '--config', configFile], { encoding: 'buffer', timeout: 60_000, env: { ...process.env, SEALGATE_DELIVERY__PORT: String(mx.port) } }));
    } catch (error) {
      ({ stdout, stderr } = error as { stdout: Buffer; stderr: Buffer });
    }
    const text = stdout.toString('utf8');
    // The positive control: the subject is printed at all (so the check below can fail).
    expect(text).toMatch(/CN=mx\.evil\.test/);
    expect(terminalControls(stdout)).toEqual([]);
    expect(terminalControls(stderr)).toEqual([]);
    // The admin still sees that something was there, spelled out.
    expect(text).toContain('\\u009B2J');
    expect(text).toContain('\\u202Etset.elpmaxe');
  }, 90_000);
});
