import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickupLink } from '../../../src/web/index.ts';
import { expectAccessible, withAxe } from '../../helpers/axe.ts';
import { CHROMIUM, hasChromium, startPortalInChromium, type PortalInChromium } from '../../helpers/browser.ts';

/*
 * Issue 10 items 10 and 12 in Chromium: a browser that asks for German gets the page in German
 * (<html lang="de">), a `<time>` shows the browser's own time zone (playwright `timezoneId`)
 * with the UTC text as its tooltip, the language links switch and remember the choice (and
 * keep the message password in the fragment), and the organisation's name, logo and contact
 * line are on the page. axe-core at desktop and phone width on each page.
 */

const TEST = 'branding';
// A PNG signature and IHDR of a 1×1 image: the logo the portal serves.
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4b80000000049454e44ae426082', 'hex');

const available = hasChromium();
if (!available) console.warn(`SKIP branding and locale in Chromium: ${CHROMIUM} is missing (run scripts/install-peers.sh as root)`);

describe.skipIf(!available)('pages in the browser’s language and time zone, with the branding', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-brand-'));
  let rig: PortalInChromium;
  const contexts: BrowserContext[] = [];

  async function context(locale: string, timezoneId: string): Promise<BrowserContext> {
    const created = await withAxe(await rig.browser.newContext({ ignoreHTTPSErrors: true, locale, timezoneId, viewport: { width: 1280, height: 800 } }));
    contexts.push(created);
    return created;
  }

  beforeAll(async () => {
    writeFileSync(path.join(dir, 'logo.png'), PNG);
    rig = await startPortalInChromium({
      config: { branding: { organisation: 'St. Mary’s Clinic', contact: 'Fragen? Rufen Sie 030 1234 567 an.', logoFile: path.join(dir, 'logo.png') } },
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await rig?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders in German for Accept-Language de, with the organisation’s name, logo and contact line', async () => {
    const page = await (await context('de-DE', 'Europe/Berlin')).newPage();
    const response = await page.goto(`${rig.base}/`);
    expect(response?.request().headers()['accept-language']).toMatch(/^de-DE/);
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    expect(await page.locator('h1').textContent()).toBe('Sichere Nachrichten abholen');
    expect(await page.title()).toBe('Sichere Nachrichten · St. Mary’s Clinic');
    expect(await page.locator('header .brand').textContent()).toBe('St. Mary’s Clinic');
    expect(await page.locator('header .brand img.logo').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1);
    expect(await page.locator('footer .contact').textContent()).toBe('Fragen? Rufen Sie 030 1234 567 an.');
    expect(await page.locator('nav.languages').getAttribute('aria-label')).toBe('Sprache');
    await expectAccessible(page, TEST, 'start-de');
  });

  it('shows a <time> in the browser’s time zone, the UTC text as its tooltip', async () => {
    const { id, messagePassword } = await rig.fixture.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@patient.test', subject: 's', verification: 'link', parts: [] });
    const facts = (await rig.fixture.pickup.describe(id))!;
    const page = await (await context('de-DE', 'Asia/Kolkata')).newPage();
    await page.goto(pickupLink(rig.base, id, messagePassword));
    const time = page.locator('p.meta time').first();
    await expect.poll(() => time.getAttribute('data-local-time'), { timeout: 10_000 }).toBe('shown');
    expect(await time.getAttribute('datetime')).toBe(new Date(facts.expiresAt).toISOString());
    // India is UTC+5:30: the minutes alone differ from the UTC text.
    const kolkata = new Intl.DateTimeFormat('de-DE', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'Asia/Kolkata' }).format(facts.expiresAt);
    const utc = new Intl.DateTimeFormat('de-DE', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC' }).format(facts.expiresAt);
    const shown = (await time.textContent())!;
    expect(shown).toContain(kolkata);
    expect(shown).not.toContain('UTC');
    expect(await time.getAttribute('title')).toBe(`${utc} UTC`);
    await expectAccessible(page, TEST, 'open-de-kolkata');
  });

  it('switches language by its link, remembers it over the browser’s language, and keeps the password in the fragment', async () => {
    const { id, messagePassword } = await rig.fixture.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@patient.test', subject: 's', verification: 'link', parts: [] });
    const browserContext = await context('en-GB', 'Europe/London');
    const page = await browserContext.newPage();
    await page.goto(pickupLink(rig.base, id, messagePassword));
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.locator('nav.languages a[lang="de"]').click();
    await page.waitForURL(/\?lang=de#/);
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    expect(await page.locator('#password').inputValue()).toBe(messagePassword);
    expect(await page.locator('nav.languages a[aria-current="true"]').textContent()).toBe('Deutsch');
    // The choice outlives the page: the next one, without ?lang=, is German too.
    await page.goto(`${rig.base}/`);
    expect(await page.locator('h1').textContent()).toBe('Sichere Nachrichten abholen');
    expect((await browserContext.cookies()).find((c) => c.name === '__Host-sg-lang')).toMatchObject({ value: 'de', secure: true, httpOnly: true, sameSite: 'Lax' });
    await expectAccessible(page, TEST, 'start-chosen-de');
  });
});
