import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebService, pickupLink, type WebService } from '../../../src/web/index.ts';
import { CHROMIUM, createPortalFixture, hasChromium, launchChromium, newPortalContext, type PortalFixture } from '../../helpers/browser.ts';
import { filesUnder } from '../../helpers/ports.ts';

/*
 * The portal as a person uses it, in real Chromium: a pickup message with hostile HTML and a
 * 5 MB attachment, opened from its link by an e-mailed one-time code (captured in process
 * here), read, downloaded, answered; then the sender's console shows the reply and the access
 * log, retracts, and the link says the message was withdrawn. No request may leave for any
 * host but the portal, and nothing from the hostile HTML may run.
 */

const PASSWORD = 'correct horse battery staple';
const SHOTS = path.resolve(import.meta.dirname, '../../artifacts/portal');
const MARKER = 'HostileMarker';

const HOSTILE_HTML = `<html><head><meta http-equiv="refresh" content="0;url=http://beacon.invalid/refresh">
<link rel="stylesheet" href="http://beacon.invalid/style.css"><style>body { background: url(http://beacon.invalid/css-bg) }</style>
<base href="http://beacon.invalid/"></head>
<body onload="alert('body onload')">
<h2>Quarterly figures</h2><p>Dear Bob, the figures are attached. <b>${MARKER}</b></p>
<script>alert('script ran'); window.parent.__pwned = 1;</script>
<img src="http://beacon.invalid/pixel.gif" alt="tracking pixel"><img src=x onerror="alert('onerror')">
<div style="background-image: url('http://beacon.invalid/inline-bg')">styled</div>
<a href="javascript:alert('js link')">click me</a>
<form action="http://beacon.invalid/steal" method="post"><input name="pw" type="password"><button>Log in</button></form>
<iframe src="http://beacon.invalid/frame"></iframe><svg onload="alert('svg')"><image href="http://beacon.invalid/svg.png"/></svg>
<video poster="http://beacon.invalid/poster.png"></video><object data="http://beacon.invalid/obj"></object>
</body></html>`;

const available = hasChromium();
if (!available) console.warn(`SKIP portal in Chromium: ${CHROMIUM} is missing (run scripts/install-peers.sh as root)`);

describe.skipIf(!available)('Secure Message Pickup portal in Chromium', () => {
  let fixture: PortalFixture;
  let service: WebService;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    fixture = await createPortalFixture();
    await fixture.users.add('alice@example.test', PASSWORD);
    service = createWebService(fixture.deps);
    await service.start();
    base = `https://127.0.0.1:${service.listening().port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await fixture?.cleanup();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  it('opens by one-time code, reads safely, downloads, replies; the sender sees it all and retracts', async () => {
    const attachment = randomBytes(5 * 1024 * 1024);
    const subject = 'Quarterly figures Q3';
    const text = 'Dear Bob,\nthe figures are attached.\nAlice';
    const { id, messagePassword } = await fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject, verification: 'code', readNotice: true,
      parts: [
        { kind: 'text', contentType: 'text/plain; charset=utf-8', content: text },
        { kind: 'html', contentType: 'text/html; charset=utf-8', content: HOSTILE_HTML },
        { kind: 'attachment', contentType: 'application/octet-stream', filename: 'figures-q3.bin', content: attachment },
      ],
    });
    await fixture.pickup.recordEvent(id, 'notice-sent', null, 'bob@dest.test');
    const link = pickupLink(base, id, messagePassword);

    const context = await newPortalContext(browser);
    const requested: string[] = [];
    const dialogs: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    context.on('page', (page) => page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    }));
    const page = await context.newPage();

    // The recipient opens the link: first the code (the one thing to do), then the password
    // comes from the fragment, kept across the redirect.
    await page.goto(link);
    expect(await page.locator('#open').count()).toBe(0);
    await shot(page, '01-open');
    await page.click('#send-code');
    await page.waitForURL(/\?sent=1/);
    expect(await page.inputValue('#password')).toBe(messagePassword);
    await page.fill('#code', fixture.lastCode('bob@dest.test'));
    await shot(page, '02-code');
    await page.click('#open');
    await page.waitForURL(new RegExp(`/m/${id}/read$`));
    expect(new URL(page.url()).hash).toBe('');

    // Reading: subject and text, the hostile HTML rendered inert in its sandboxed frame.
    expect(await page.textContent('#subject')).toBe(subject);
    expect(await page.textContent('#text-body')).toBe(text);
    const frame = page.frameLocator('#html-body');
    await expect.poll(() => frame.locator('body').textContent()).toContain(MARKER);
    expect(await frame.locator('body').textContent()).toContain('[image: tracking pixel]');
    await page.waitForTimeout(500);
    await shot(page, '03-read');

    // The attachment, streamed and decrypted, is byte for byte what was sent.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=figures-q3.bin')]);
    expect(download.suggestedFilename()).toBe('figures-q3.bin');
    const downloaded = readFileSync(await download.path());
    expect(downloaded.length).toBe(attachment.length);
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(createHash('sha256').update(attachment).digest('hex'));

    // A secure reply with a file.
    const replyFile = Buffer.from('signed copy\n');
    await page.fill('#reply-text', 'Thanks Alice, signed copy attached.');
    await page.setInputFiles('#reply-files', { name: 'signed.txt', mimeType: 'text/plain', buffer: replyFile });
    await page.click('#send-reply');
    await page.waitForURL(/\?replied=1/);
    expect(await page.textContent('.notice.ok')).toContain('Your reply was sent securely');
    await shot(page, '04-replied');

    // Nothing of the hostile HTML ran, and the browser asked only the portal for anything.
    expect(dialogs).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    const foreign = requested.filter((url) => new URL(url).origin !== base);
    expect(foreign).toEqual([]);
    console.log(`portal: ${requested.length} browser requests, all to ${base}`);

    // The sender: console login, the list, the message page with the access log and the reply.
    await page.goto(`${base}/console`);
    await page.waitForURL(/\/console\/login$/);
    await shot(page, '05-login');
    await page.fill('#username', 'alice@example.test');
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await page.waitForURL(/\/console$/);
    const row = page.locator('#messages li.recipient', { hasText: 'bob@dest.test' });
    expect(await row.textContent()).toContain('replied');
    await shot(page, '06-console-list');
    await row.locator('a').click();
    await page.waitForURL(new RegExp(`/console/m/${id}$`));
    const log = (await page.textContent('#access-log')) ?? '';
    for (const event of ['created', 'notice sent', 'one-time code sent', 'opened', 'read notice sent', 'attachment downloaded', 'replied']) expect(log).toContain(event);
    expect(log).toContain('figures-q3.bin');
    await shot(page, '07-console-message');
    await page.click('#replies a');
    expect(await page.textContent('#reply-text')).toBe('Thanks Alice, signed copy attached.');
    await shot(page, '08-console-reply');
    const [replyDownload] = await Promise.all([page.waitForEvent('download'), page.click('text=signed.txt')]);
    expect(readFileSync(await replyDownload.path()).equals(replyFile)).toBe(true);
    expect(fixture.mails.some((m) => m.envelope.to[0] === 'alice@example.test' && m.raw.toString().includes('was opened'))).toBe(true);

    // Nothing readable at rest: no subject, text, marker or attachment bytes in any file.
    const needles = [subject, 'the figures are attached', MARKER, 'Thanks Alice', 'signed copy'].map((s) => Buffer.from(s));
    needles.push(attachment.subarray(1_000_000, 1_000_064));
    for (const file of filesUnder(fixture.dir)) {
      const content = readFileSync(file);
      for (const needle of needles) expect(content.includes(needle), `${file} holds plaintext`).toBe(false);
    }

    // Retraction: the link now says the message was withdrawn.
    await page.goto(`${base}/console/m/${id}`);
    await page.click('#retract');
    await page.click('#confirm-retract');
    await page.waitForURL(/done=retracted/);
    expect(await page.textContent('#state')).toBe('retracted');
    await shot(page, '09-console-retracted');
    await page.click('#logout');
    await page.waitForURL(/\/console\/login\?out=1$/);
    await page.goto(link);
    expect(await page.textContent('h1')).toBe('Message withdrawn');
    expect(await page.textContent('.notice')).toContain('withdrawn by the sender');
    await shot(page, '10-withdrawn');
    expect(requested.filter((url) => new URL(url).origin !== base)).toEqual([]);
    expect(dialogs).toEqual([]);
    await context.close();
  });
});
