import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { freePort, tempDir } from './ports.ts';

/**
 * One zone of the DNSSEC test world.
 * - `signed`: signed, and its key is a trust anchor of the validating resolver, so answers are secure (AD).
 * - `bogus`: signed with a key that is not the trust anchor, so validation fails and the resolver says SERVFAIL.
 * - `unsigned`: no signatures, declared `domain-insecure`, so answers are insecure (no AD) but fine.
 */
export interface SignedZoneSpec {
  /** e.g. `secure.test` (no trailing dot). */
  name: string;
  dnssec: 'signed' | 'bogus' | 'unsigned';
  /**
   * Zone-file lines relative to the zone (`$ORIGIN` is the zone), e.g. `@ MX 10 mx`,
   * `mx A 127.0.0.1`, `_25._tcp.mx TLSA 3 1 1 <hex>`. SOA and NS (`ns` at 127.0.0.1) are added.
   */
  records: string[];
}

export interface DnssecDns {
  /** The validating resolver, for `createSecureResolver({ servers })`. */
  servers: string[];
  port: number;
  /** The authoritative server (answers without validation), for tests that want raw answers. */
  authServers: string[];
  /** The `trust-anchor:` lines the resolver uses (DS records), by zone. */
  trustAnchors: Record<string, string>;
  stop(): Promise<void>;
}

const TOOLS = ['unbound', 'ldns-keygen', 'ldns-signzone'];

/** A fresh ECDSA P-256 key as a CSK (KSK flag, signs everything); returns the file base name. */
function keygen(dir: string, zone: string): string {
  return execFileSync('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', zone], { cwd: dir, encoding: 'utf8' }).trim();
}

function dsOf(dir: string, base: string): string {
  // `secure.test.	IN	DS	58658 13 2 40f3…`, on one line for unbound's `trust-anchor:`.
  return readFileSync(path.join(dir, `${base}.ds`), 'utf8').trim().replace(/\s+/g, ' ');
}

function writeZone(dir: string, spec: SignedZoneSpec): { file: string; anchor?: string } {
  const zone = spec.name.replace(/\.$/, '');
  const file = path.join(dir, `${zone}.zone`);
  const lines = [
    `$ORIGIN ${zone}.`,
    '$TTL 300',
    `@ IN SOA ns.${zone}. hostmaster.${zone}. 1 3600 600 86400 300`,
    `@ IN NS ns.${zone}.`,
    'ns IN A 127.0.0.1',
    ...spec.records,
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  if (spec.dnssec === 'unsigned') return { file };
  const signingKey = keygen(dir, zone);
  // Inception an hour back so small clock differences never make the signatures "not yet valid".
  const inception = String(Math.floor(Date.now() / 1000) - 3600);
  execFileSync('ldns-signzone', ['-i', inception, '-o', `${zone}.`, '-f', `${file}.signed`, file, signingKey], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  // A bogus zone is validly signed, but by a key the resolver does not trust: the chain breaks at the DNSKEY set.
  const anchorKey = spec.dnssec === 'bogus' ? keygen(dir, zone) : signingKey;
  return { file: `${file}.signed`, anchor: dsOf(dir, anchorKey) };
}

function commonConfig(dir: string, name: string, port: number, zones: string[]): string[] {
  // unbound answers RFC 6761 names (`test.`, `invalid.`…) itself unless told not to.
  const tlds = [...new Set(zones.map((z) => z.replace(/\.$/, '').split('.').pop()))];
  return [
    'server:',
    `  directory: "${dir}"`,
    '  chroot: ""',
    '  username: ""',
    `  pidfile: "${path.join(dir, `${name}.pid`)}"`,
    '  use-syslog: no',
    `  logfile: "${path.join(dir, `${name}.log`)}"`,
    '  verbosity: 1',
    '  interface: 127.0.0.1',
    `  port: ${port}`,
    '  do-ip6: no',
    '  num-threads: 1',
    '  so-reuseport: no',
    '  access-control: 127.0.0.0/8 allow',
    '  outgoing-range: 64',
    '  incoming-num-tcp: 16',
    '  outgoing-num-tcp: 16',
    ...tlds.map((tld) => `  local-zone: "${tld}." nodefault`),
  ];
}

interface Unbound {
  child: ChildProcess;
  log: string;
  stderr: () => string;
}

function startUnbound(dir: string, name: string, config: string[]): Unbound {
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(conf, `${config.join('\n')}\n`);
  execFileSync('unbound-checkconf', [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const child = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return { child, log: path.join(dir, `${name}.log`), stderr: () => stderr };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function tail(server: Unbound): string {
  let log = '';
  try {
    log = readFileSync(server.log, 'utf8').slice(-2000);
  } catch {
    // no log yet
  }
  return `${log}${server.stderr()}`;
}

/** Polls until the server answers at all (any DNS answer, even SERVFAIL, means it is up). */
async function waitForDns(server: Unbound, port: number, name: string, what: string): Promise<void> {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await resolver.resolveSoa(name).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEOUT') throw e;
      });
      return;
    } catch (error) {
      if (Date.now() > deadline || server.child.exitCode !== null) {
        throw new Error(`${what} unbound did not come up on 127.0.0.1:${port}: ${(error as Error).message}\n${tail(server)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A DNSSEC test world on loopback with real tools: zones signed by ldns-signzone, served by an
 * authoritative unbound (auth-zone), and a second unbound validating against per-zone trust anchors
 * (no root anchor: names outside the anchors are simply insecure).
 */
export async function startDnssecDns(zones: SignedZoneSpec[]): Promise<DnssecDns> {
  const temp = tempDir('dnssec');
  const dir = temp.dir;
  const running: Unbound[] = [];
  const stop = async () => {
    for (const server of [...running].reverse()) await stopProcess(server.child);
    temp.cleanup();
  };
  try {
    const trustAnchors: Record<string, string> = {};
    const built = zones.map((spec) => ({ spec, ...writeZone(dir, spec) }));
    for (const { spec, anchor } of built) if (anchor) trustAnchors[spec.name] = anchor;
    const authPort = await freePort();
    const port = await freePort();
    const probe = zones[0]?.name ?? 'test';

    const authConfig = [...commonConfig(dir, 'auth', authPort, zones.map((z) => z.name)), '  module-config: "iterator"'];
    for (const { spec, file } of built) {
      authConfig.push('auth-zone:', `  name: "${spec.name}."`, `  zonefile: "${file}"`, '  for-downstream: yes', '  for-upstream: no');
    }
    authConfig.push('remote-control:', '  control-enable: no');

    const resolverConfig = [
      ...commonConfig(dir, 'resolver', port, zones.map((z) => z.name)),
      '  module-config: "validator iterator"',
      // The authoritative server is on loopback too: unbound refuses to ask 127.0.0.1 by default.
      '  do-not-query-localhost: no',
      '  val-log-level: 2',
      '  qname-minimisation: no',
      ...built.filter((b) => b.anchor).map((b) => `  trust-anchor: "${b.anchor}"`),
      ...built.filter((b) => b.spec.dnssec === 'unsigned').map((b) => `  domain-insecure: "${b.spec.name}."`),
    ];
    for (const { spec } of built) resolverConfig.push('stub-zone:', `  name: "${spec.name}."`, `  stub-addr: 127.0.0.1@${authPort}`);
    resolverConfig.push('remote-control:', '  control-enable: no');

    const auth = startUnbound(dir, 'auth', authConfig);
    running.push(auth);
    await waitForDns(auth, authPort, probe, 'authoritative');
    const resolver = startUnbound(dir, 'resolver', resolverConfig);
    running.push(resolver);
    await waitForDns(resolver, port, probe, 'validating');
    return { servers: [`127.0.0.1:${port}`], port, authServers: [`127.0.0.1:${authPort}`], trustAnchors, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** The tools this helper needs, for `describeWithPeers`. */
export const DNSSEC_TOOLS = TOOLS;
