import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { Users } from '../../src/accounts/index.ts';
import { parseConfig, type ConfigInput } from '../../src/config/index.ts';
import { systemClock, type Clock } from '../../src/kernel/index.ts';
import { PickupStore, type GateOptions } from '../../src/pickup/index.ts';
import type { Store } from '../../src/store/index.ts';
import { createVault, ensureSelfSignedCertificate } from '../../src/vault/index.ts';
import { createWebService, type WebDeps, type WebService } from '../../src/web/index.ts';
import { silentLogger } from './silent-logger.ts';
import { openTestStore } from './stores.ts';
import { AuditLog, auditSigner } from '../../src/audit/index.ts';

/** Debian's chromium, driven by playwright-core (which brings no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';

export const hasChromium = (): boolean => existsSync(CHROMIUM);

/** Headless Chromium that reaches nothing on its own: no sync, no updates, no QUIC probes. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh browser profile that accepts the portal's self-signed certificate and downloads files. */
export function newPortalContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 420, height: 860 }, deviceScaleFactor: 1 });
}

export interface SentMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

export interface PortalFixture {
  deps: WebDeps;
  store: Store;
  pickup: PickupStore;
  users: Users;
  dir: string;
  /** What the portal e-mailed (codes, read notices), kept in memory instead of sent. */
  mails: SentMail[];
  /** The last one-time code e-mailed to `to`. */
  lastCode(to: string): string;
  cleanup(): Promise<void>;
}

/** The web tier's dependencies over a fresh SQLite store, with mail captured in memory. */
export async function createPortalFixture(options: { config?: ConfigInput; clock?: Clock; gate?: GateOptions } = {}): Promise<PortalFixture> {
  const test = await openTestStore('sqlite');
  const clock = options.clock ?? systemClock;
  const pickup = new PickupStore({ store: test.store, masterKey: randomBytes(32), dataDir: test.dir, clock, gate: { clock, ...options.gate } });
  const users = new Users(test.store, clock, undefined, { vault: createVault(randomBytes(32)) });
  const config = parseConfig({ hostname: 'portal.test', dataDir: test.dir, ...options.config, web: { port: 0, ...options.config?.web } });
  const pair = await ensureSelfSignedCertificate(test.dir, '127.0.0.1');
  const mails: SentMail[] = [];
  const deps: WebDeps = {
    config, store: test.store, pickup, users, logger: silentLogger, clock, tls: { key: pair.keyPem, cert: pair.certPem },
    audit: new AuditLog({ store: test.store, node: 'portal-fixture', clock, signer: auditSigner(randomBytes(32)) }),
    sendMail: async (envelope, raw) => {
      mails.push({ envelope, raw });
    },
  };
  return {
    deps, store: test.store, pickup, users, dir: test.dir, mails,
    lastCode(to) {
      const mail = mails.filter((m) => m.envelope.to.includes(to)).at(-1);
      const code = mail?.raw.toString('utf8').match(/^\s+(\d{6})\s*$/m)?.[1];
      if (!code) throw new Error(`no one-time code was e-mailed to ${to}`);
      return code;
    },
    cleanup: test.cleanup,
  };
}

export interface PortalInChromium {
  fixture: PortalFixture;
  service: WebService;
  browser: Browser;
  /** https://127.0.0.1:<port> */
  base: string;
  close(): Promise<void>;
}

/** A portal fixture served over HTTPS on loopback, and Chromium: what a Chromium scenario starts once per file. */
export async function startPortalInChromium(options: Parameters<typeof createPortalFixture>[0] = {}): Promise<PortalInChromium> {
  const fixture = await createPortalFixture(options);
  const service = createWebService(fixture.deps);
  await service.start();
  const browser = await launchChromium();
  return {
    fixture, service, browser, base: `https://127.0.0.1:${service.listening().port}`,
    async close() {
      await browser.close();
      await service.stop();
      await fixture.cleanup();
    },
  };
}
