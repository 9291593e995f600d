import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { freePort, tempDir } from './ports.ts';

export interface DnsRecords {
  mx?: { domain: string; host: string; pref: number }[];
  a?: { name: string; ip: string }[];
  txt?: { name: string; text: string }[];
  /** Domains publishing RFC 7505 null MX (`MX 0 .`). */
  nullMx?: string[];
  /** Zones answered authoritatively (NXDOMAIN for unknown names), default ['test']. */
  zones?: string[];
}

/**
 * The DNS of the From-spoofing attacks: bank.test publishes DMARC p=reject and lets only
 * 192.0.2.1 send; the attacker's evil.test lets 127.0.0.1 send, so SPF passes for it alone.
 */
export const SPOOFED_BANK_TXT: NonNullable<DnsRecords['txt']> = [
  { name: 'bank.test', text: 'v=spf1 ip4:192.0.2.1 -all' },
  { name: '_dmarc.bank.test', text: 'v=DMARC1; p=reject' },
  { name: 'evil.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
];

export interface DnsServer {
  port: number;
  servers: string[];
  stop(): Promise<void>;
}

/** One TXT record as dnsmasq strings: a string holds at most 255 bytes (RFC 1035 §3.3.14), longer text is split. */
function txtStrings(text: string): string {
  const parts: string[] = [];
  for (let i = 0; i < text.length || i === 0; i += 255) parts.push(`"${text.slice(i, i + 255).replace(/"/g, '\\"')}"`);
  return parts.join(',');
}

/**
 * dnsmasq on 127.0.0.1 serving only the given records, nothing forwarded anywhere. `listen`
 * places it elsewhere, e.g. port 53 of another loopback address for a peer that reads
 * /etc/resolv.conf (which names no port; see test/integration/21-auth).
 */
export async function startDns(records: DnsRecords, listen: { host?: string; port?: number } = {}): Promise<DnsServer> {
  const temp = tempDir('dns');
  const host = listen.host ?? '127.0.0.1';
  const port = listen.port ?? (await freePort());
  const lines = [
    ...(records.zones ?? ['test']).map((z) => `local=/${z}/`),
    ...(records.mx ?? []).map((m) => `mx-host=${m.domain},${m.host},${m.pref}`),
    ...(records.nullMx ?? []).map((d) => `mx-host=${d},.,0`),
    ...(records.a ?? []).map((a) => `host-record=${a.name},${a.ip}`),
    ...(records.txt ?? []).map((t) => `txt-record=${t.name},${txtStrings(t.text)}`),
  ];
  const conf = path.join(temp.dir, 'dnsmasq.conf');
  const log = path.join(temp.dir, 'dnsmasq.log');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('dnsmasq', ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', `--listen-address=${host}`, '--bind-interfaces', `--port=${port}`, `--conf-file=${conf}`, '--user=root', `--pid-file=${path.join(temp.dir, 'pid')}`, `--log-facility=${log}`, '--log-queries'], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    temp.cleanup();
  };
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`${host}:${port}`]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await resolver.resolve4('probe.invalid-zone-for-readiness.test').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNREFUSED' || e.code === 'ETIMEOUT') throw e;
      });
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        let tail = '';
        try {
          tail = readFileSync(log, 'utf8').slice(-2000);
        } catch {
          // no log yet
        }
        await stop();
        throw new Error(`dnsmasq did not come up on ${host}:${port}: ${(error as Error).message}\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, servers: [`${host}:${port}`], stop };
}
