/**
 * What a cluster's primary and the front (gateway-front.ts) both need, kept apart so the
 * primary does not load the front (the SMTP server, the portal, inbound auth and e2e) to get
 * it: the TLS material and the store's readiness.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { Config } from './config/index.ts';
import { ensureSelfSignedCertificate } from './vault/index.ts';
import type { Runtime } from './runtime.ts';
import type { ReadinessCheck } from './web/index.ts';

export interface GatewayTls {
  key: string;
  cert: string;
  selfSigned: boolean;
}

export async function loadTls(config: Config): Promise<GatewayTls> {
  if (config.tls.certFile && config.tls.keyFile) {
    return { key: readFileSync(config.tls.keyFile, 'utf8'), cert: readFileSync(config.tls.certFile, 'utf8'), selfSigned: false };
  }
  const pair = await ensureSelfSignedCertificate(config.dataDir, config.hostname);
  return { key: pair.keyPem, cert: pair.certPem, selfSigned: true };
}

/** The readiness of the store: it answers within 2 s. */
export async function storeReadiness(runtime: Runtime): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  const check = await Promise.race([
    sql`select 1`.execute(runtime.store.db).then(() => ({ name: 'store', ok: true })),
    new Promise<ReadinessCheck>((resolve) => (timer = setTimeout(() => resolve({ name: 'store', ok: false, detail: 'the database did not answer within 2 s' }), 2_000))),
  ]).catch((error: Error) => ({ name: 'store', ok: false, detail: `the database refused: ${error.message}` }));
  clearTimeout(timer);
  return check;
}
