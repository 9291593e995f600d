/**
 * The inbound end-to-end step wired from the configuration (src/smtp/server/e2e-inbound.ts):
 * the key store, both protectors, the replay ledger and the S/MIME trust anchors.
 */
import { readFileSync } from 'node:fs';
import type { Config } from './config/index.ts';
import { createSmimeProtector, E2eKeyStore, openpgpProtector, ReplayLedger } from './e2e/index.ts';
import { createInboundE2e, type InboundE2e } from './smtp/index.ts';
import type { Runtime } from './runtime.ts';

const DAY = 24 * 3600 * 1000;

export function inboundE2eFor(config: Config, runtime: Pick<Runtime, 'store' | 'vault' | 'logger'>): InboundE2e | undefined {
  const settings = config.e2e.inbound;
  if (!settings.enabled) return undefined;
  return createInboundE2e({
    hostname: config.hostname,
    openpgp: openpgpProtector,
    smime: createSmimeProtector(),
    keys: new E2eKeyStore(runtime.store, runtime.vault, { discoveredTrustMs: config.e2e.discovery.trustDays * DAY }),
    replay: new ReplayLedger(runtime.store, settings.replayDays * DAY),
    trustAnchors: config.e2e.smime.trustAnchorFiles.map((file) => new Uint8Array(readFileSync(file))),
    harvest: settings.harvest,
    maxBufferedBytes: settings.maxBufferedMegabytes * 1024 * 1024,
    logger: runtime.logger.child({ module: 'e2e-inbound' }),
  });
}
