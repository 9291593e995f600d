import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config/index.ts';
import { createPickupHousekeeping } from './pickup-service.ts';
import { initDataDir, openRuntime } from './runtime.ts';
import { silentLogger } from '../test/helpers/silent-logger.ts';

describe('pickup housekeeping', () => {
  it('audits each expiry as message.expired, in one batch per sweep, with nothing of the content', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sealgate-pickup-hk-'));
    const config = parseConfig({ hostname: 'gateway.sealgate.test', dataDir: path.join(dir, 'data') });
    initDataDir(config);
    const runtime = await openRuntime(config, silentLogger);
    try {
      const made = [];
      for (const subject of ['one secret subject', 'two']) made.push(await runtime.pickup.create({ sender: 'a@x.test', recipient: 'b@y.test', subject, verification: 'link', parts: [], expiresInDays: 1 }));
      const kept = await runtime.pickup.create({ sender: 'a@x.test', recipient: 'c@y.test', subject: 'kept', verification: 'link', parts: [], expiresInDays: 5 });
      const real = runtime.clock.now;
      runtime.clock.now = () => real() + 2 * 86_400_000;
      const housekeeping = createPickupHousekeeping(runtime, 3_600_000);
      try {
        await housekeeping.start();
        const until = Date.now() + 5_000;
        while ((await runtime.audit.list({ action: 'message.expired' })).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      } finally {
        await housekeeping.stop();
        runtime.clock.now = real;
      }
      const events = await runtime.audit.list({ action: 'message.expired' });
      expect(events.map((e) => e.target).sort()).toEqual(made.map((m) => m.id).sort());
      expect(events.every((e) => e.actor === 'system' && JSON.stringify(e.detail) === '{}')).toBe(true);
      expect(events.map((e) => e.target)).not.toContain(kept.id);
      expect((await runtime.audit.verify()).ok).toBe(true);
    } finally {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
