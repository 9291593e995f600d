/**
 * Issue 13's backup proof: backup → wipe → restore → the portal (over HTTPS) still opens an
 * unexpired message; a message purged before the backup, or retracted after it (and so before
 * the restore), stays gone. Pickup shares live outside the backup by design (here in their own
 * folder, `pickup.shareDir`, beside the data dir the wipe removes): a restore brings back the
 * rows, and only a message whose share still exists opens.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { runSealgateInProcess } from '../../helpers/cli-in-process.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { HttpsClient } from '../../helpers/https-client.ts';
import { tempDir } from '../../helpers/ports.ts';
import { silentLogger } from '../../helpers/silent-logger.ts';

const portPort = (gateway: GatewayProcess) => (JSON.parse(readFileSync(gateway.configFile, 'utf8')) as { web: { port: number } }).web.port;

/** Opens a pickup as a browser would; `cookies` carries a browser's cookies (its binding) across gateways. */
async function openInPortal(gateway: GatewayProcess, id: string, password: string, cookies = new Map<string, string>()) {
  const client = new HttpsClient(portPort(gateway));
  for (const [k, v] of cookies) client.cookies.set(k, v);
  try {
    return await openWith(client, id, password);
  } finally {
    for (const [k, v] of client.cookies) cookies.set(k, v);
  }
}

async function openWith(client: HttpsClient, id: string, password: string) {
  const form = await client.request('GET', `/m/${id}`);
  if (form.status !== 200) return { status: form.status, body: form.body };
  const opened = await client.request('POST', `/m/${id}`, { form: { _csrf: HttpsClient.csrfOf(form.body), password } });
  if (opened.status !== 303) return { status: opened.status, body: opened.body };
  return client.request('GET', `/m/${id}/read`);
}

describe('backup and restore keep the pickups that should open, and only those', () => {
  it('an unexpired message opens after backup → wipe → restore; purged and retracted ones stay gone', async () => {
    const temp = tempDir('sealgate-backup-portal-');
    const dir = path.join(temp.dir, 'gw');
    const settings = { pickup: { shareDir: path.join(temp.dir, 'shares') } };
    let gateway = await startGateway(dir, settings, { cli: 'in-process' });
    try {
      // Pickups made through the gateway's own store (the same database, key and share folder).
      const runtime = await openRuntime(loadConfig({ file: gateway.configFile }), silentLogger);
      const make = (subject: string, text: string) => runtime.pickup.create({ sender: 'alice@corp.test', recipient: 'bob@dest.test', subject, verification: 'link', parts: [{ kind: 'text', contentType: 'text/plain', content: Buffer.from(text) }] } as never);
      const kept = await make('kept', 'the kept results');
      const retracted = await make('retracted', 'the retracted results');
      const purged = await make('purged', 'the purged results');
      await runtime.pickup.retract(purged.id);
      expect(await runtime.pickup.purgeWithdrawn(runtime.clock.now() + 1)).toBe(1);
      // Bob's browser: the copy is bound to it on the first open, so the same browser comes back.
      const bob = new Map<string, string>();
      expect((await openInPortal(gateway, kept.id, kept.messagePassword, bob)).body).toContain('the kept results');

      const identity = path.join(temp.dir, 'identity');
      const publicKey = (await gateway.cli('backup', 'keygen', '--out', identity)).stdout.trim();
      const file = path.join(temp.dir, 'gw.backup');
      const made = await gateway.cli('backup', 'create', file, '--recipient', publicKey);
      expect(made.code, made.stderr).toBe(0);
      // After the backup, before the restore: the sender retracts one.
      await runtime.pickup.retract(retracted.id);
      await runtime.close();
      await gateway.kill();

      rmSync(path.join(dir, 'data'), { recursive: true, force: true }); // the wipe
      const restored = await runSealgateInProcess(['backup', 'restore', file, '--identity', identity, '--config', gateway.configFile]);
      expect(restored.code, restored.stderr).toBe(0);
      gateway = await startGateway(dir, settings, { cli: 'in-process' });

      bob.delete('__Host-sg-read'); // a new visit: the browser's binding stays, its reading session does not
      const page = await openInPortal(gateway, kept.id, kept.messagePassword, bob);
      expect(page.status).toBe(200);
      expect(page.body).toContain('the kept results');
      const again = await openInPortal(gateway, retracted.id, retracted.messagePassword, bob);
      expect(again.status).toBe(410);
      expect(again.body).not.toContain('the retracted results');
      expect((await openInPortal(gateway, purged.id, purged.messagePassword)).status).toBe(404);
    } finally {
      await gateway.kill();
      temp.cleanup();
    }
  }, 120_000);
});
