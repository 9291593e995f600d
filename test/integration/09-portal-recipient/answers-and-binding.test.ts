import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickupLink } from '../../../src/pickup/index.ts';
import { expectAccessible } from '../../helpers/axe.ts';
import { CHROMIUM, hasChromium, newPortalContext, startPortalInChromium, type PortalInChromium } from '../../helpers/browser.ts';

/*
 * The recipient's side of issue 10 in Chromium (items 9 and 3; items 6 and 12 in pages.test.ts): every page checked by axe
 * at 1280 and 390 px. One browser for the file.
 */

const available = hasChromium();
if (!available) console.warn(`SKIP 09-portal-recipient: ${CHROMIUM} is missing`);
const TEST = '09-recipient-answers';

describe.skipIf(!available)('the recipient’s pages in Chromium', () => {
  let rig: PortalInChromium;
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    rig = await startPortalInChromium();
  }, 60_000);
  afterAll(async () => rig?.close());
  const fresh = async () => {
    await context?.close();
    context = await newPortalContext(rig.browser);
    page = await context.newPage();
  };

  it('item 9: a wrong answer says so, keeps the password, marks the field; the answer ignores case and punctuation; a lock says the sender can unlock', async () => {
    await fresh();
    const { id, messagePassword } = await rig.fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'Question', verification: 'question',
      question: 'Where were you born?', passphraseOrAnswer: "St. Mary's Hospital", parts: [{ kind: 'text', contentType: 'text/plain', content: 'hi' }],
    });
    await page.goto(`${rig.base}/m/${id}`);
    await page.fill('#password', messagePassword);
    await page.fill('#secret', 'elsewhere');
    await page.click('#open');
    await page.waitForSelector('#secret[aria-invalid="true"]');
    expect(await page.textContent('#form-message')).toContain('The answer is not right');
    expect(await page.getAttribute('#secret', 'aria-describedby')).toBe('secret-hint form-message attempts-left');
    expect(await page.inputValue('#password')).toBe(messagePassword);
    expect(await page.inputValue('#secret')).toBe('');
    expect(await page.textContent('#attempts-left')).toBe('9 attempts left before the message locks.');
    await expectAccessible(page, TEST, 'wrong-answer');
    await page.fill('#secret', 'st marys   HOSPITAL');
    await page.click('#open');
    await page.waitForURL(/\/read$/);

    const locked = await rig.fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'L', verification: 'passphrase', passphraseOrAnswer: 'right one', parts: [] });
    for (let i = 0; i < 10; i++) await rig.fixture.pickup.open(locked.id, { password: locked.messagePassword, secret: 'wrong' }).catch(() => undefined);
    await page.goto(`${rig.base}/m/${locked.id}`);
    expect(await page.textContent('h1')).toBe('Message locked');
    expect(await page.textContent('.notice')).toContain('The sender can unlock it');
    await expectAccessible(page, TEST, 'locked');
  });

  it('item 3: the page a second browser gets is accessible and focuses the code field', async () => {
    await fresh();
    const { id, messagePassword } = await rig.fixture.pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject: 'Bound', verification: 'link', parts: [] });
    await rig.fixture.pickup.open(id, { password: messagePassword }, { browser: {} });
    await page.goto(pickupLink(rig.base, id, messagePassword));
    await page.click('#open');
    await page.waitForSelector('#code');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('code');
    expect(await page.textContent('#form-message')).toContain('opened in another browser');
    await expectAccessible(page, TEST, 'new-browser');
    await context.close();
  });
});
