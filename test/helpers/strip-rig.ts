import path from 'node:path';
import { expect } from 'vitest';
import { createTestCa } from './ca.ts';
import { startDns, type DnsRecords, type DnsServer } from './dns.ts';
import { startGateway, type GatewayProcess } from './gateway.ts';
import { tempDir } from './ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from './recording-smtp.ts';
import { startStripProxy, type StripProxy } from './strip-proxy.ts';
import { submitAs } from './swaks.ts';

export const STRIP_RIG_PASSWORD = 'correct horse battery staple';

/**
 * The stage of the link-memory attacks: a domain whose MX first answers honestly over TLS with a
 * certificate from the test CA (so it proves tls-verified), a gateway delivering to it with
 * alice@sender.test as a submitting user, and `takeOver()` for the attacker who then takes the
 * MX address with a STARTTLS stripper in front of a receiver of their own.
 */
export interface StripRig {
  gateway: GatewayProcess;
  honest: RecordingSmtp;
  dns: DnsServer;
  certificate: { key: string; cert: string };
  submit: ReturnType<typeof submitAs>;
  /** `sealgate queue show <id>`'s output. */
  show(id: string): Promise<string>;
  /** Stops the honest MX; a stripper takes its address and port, relaying to a receiver on `behindIp`. */
  takeOver(behindIp: string): Promise<{ stripper: StripProxy; behind: RecordingSmtp }>;
  stop(): Promise<void>;
}

export interface StripRigOptions {
  /** Test name for the temp dir. */
  name: string;
  domain: string;
  mxIp: string;
  /** More DNS records beside the domain's MX and A. */
  dns?: { mx?: NonNullable<DnsRecords['mx']>; a?: NonNullable<DnsRecords['a']> };
  /** More `delivery` settings of the gateway. */
  delivery?: Record<string, unknown>;
}

export async function startStripRig(options: StripRigOptions): Promise<StripRig> {
  const temp = tempDir(options.name);
  const stops: (() => Promise<void>)[] = [];
  const rig: Partial<StripRig> = {};
  try {
    const ca = await createTestCa(temp.dir);
    const host = `mx.${options.domain}`;
    const issued = await ca.issue([host]);
    const certificate = { key: issued.keyPem, cert: issued.certPem };
    const honest = await startRecordingSmtp({ host: options.mxIp, tls: certificate });
    stops.push(() => honest.stop());
    const dns = await startDns({ mx: [{ domain: options.domain, host, pref: 10 }, ...(options.dns?.mx ?? [])], a: [{ name: host, ip: options.mxIp }, ...(options.dns?.a ?? [])] });
    stops.push(() => dns.stop());
    const gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: honest.port, extraCaFiles: [ca.caCertPath], connectTimeoutMs: 2000, ipFamilies: [4], ...options.delivery },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
      pickup: { fallbackOnRequirement: false },
    });
    stops.unshift(() => gateway.kill());
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', STRIP_RIG_PASSWORD)).code).toBe(0);
    Object.assign(rig, {
      gateway,
      honest,
      dns,
      certificate,
      submit: submitAs(() => gateway.ports.submission, STRIP_RIG_PASSWORD),
      show: async (id: string) => (await gateway.cli('queue', 'show', id)).stdout,
      async takeOver(behindIp: string) {
        const port = honest.port;
        await honest.stop();
        const behind = await startRecordingSmtp({ host: behindIp, tls: certificate });
        stops.push(() => behind.stop());
        const stripper = await startStripProxy({ ip: options.mxIp, port, upstream: { host: behindIp, port: behind.port } });
        stops.unshift(() => stripper.stop());
        return { stripper, behind };
      },
    });
  } catch (error) {
    await stopAll(stops);
    temp.cleanup();
    throw error;
  }
  rig.stop = async () => {
    await stopAll(stops);
    temp.cleanup();
  };
  return rig as StripRig;
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of stops) await stop().catch(() => undefined);
}
