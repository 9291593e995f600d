import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkSecurityMemory } from '../../../src/linksec/index.ts';
import { createWebService, type WebService } from '../../../src/web/index.ts';
import { expectAccessible } from '../../helpers/axe.ts';
import { CHROMIUM, createPortalFixture, hasChromium, launchChromium, newPortalContext, type PortalFixture } from '../../helpers/browser.ts';

/*
 * The sender console of issue 10 as a person uses it, in real Chromium, one scenario per item:
 * 6 (retract asks first, "Sign out"), 7 (one entry per composition with subject, files and
 * recipients; search; retract all), 8 (a reply mails the sender; "Reply" continues the thread,
 * which the recipient sees with their own reply), 9 (locked per recipient and unlocked; the
 * answer shown while typing), 3 (the weak-link question and the passphrase offer), 12 (a failed
 * sign-in keeps the address; the IP address column). Every page: axe at 1280 and 390 px.
 */

const PASSWORD = 'correct horse battery staple';
const SENDER = 'alice@example.test';
const T = '10-console';

/** The notice's link (quoted-printable undone). */
function linkIn(raw: Buffer): string {
  const text = raw.toString('utf8').replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return /https:\/\/\S+\/m\/[A-Za-z0-9_-]{22}#\S+/.exec(text)![0];
}

const available = hasChromium();
if (!available) console.warn(`SKIP console in Chromium: ${CHROMIUM} is missing (run scripts/install-peers.sh as root)`);

describe.skipIf(!available)('sender console in Chromium (issue 10)', () => {
  let fixture: PortalFixture;
  let service: WebService;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    fixture = await createPortalFixture({ gate: { maxFailures: 3, ipAttempts: 1000 } });
    await fixture.users.add(SENDER, PASSWORD);
    await new LinkSecurityMemory(fixture.store).record({
      domain: 'dest.test', mxHost: 'mx.dest.test', ip: '127.0.0.1', starttlsOffered: true, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'mx.dest.test',
      certValid: true, certError: null, requireTlsAdvertised: false, error: null, at: Date.now(),
    });
    service = createWebService(fixture.deps);
    await service.start();
    base = `https://127.0.0.1:${service.listening().port}`;
    browser = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await service?.stop();
    await fixture?.cleanup();
  });

  async function newPage(): Promise<Page> {
    const context = await newPortalContext(browser);
    contexts.push(context);
    return context.newPage();
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${base}/console/login`);
    await page.fill('#username', SENDER);
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await page.waitForURL(/\/console$/);
  }

  async function compose(page: Page, fields: { to: string; subject: string; verification?: string; answer?: string; question?: string }) {
    await page.goto(`${base}/console/compose`);
    await page.fill('#recipients', fields.to);
    await page.fill('#subject', fields.subject);
    await page.fill('#text', 'Please read this.');
    await page.check(`input[name=verification][value=${fields.verification ?? 'link'}]`);
    if (fields.question) await page.fill('#question', fields.question);
    if (fields.answer) await page.fill('#answer', fields.answer);
  }

  it('item 12: a failed sign-in keeps the address; item 6: "Sign out"', async () => {
    const page = await newPage();
    await page.goto(`${base}/console/login`);
    await page.fill('#username', SENDER);
    await page.fill('#password', 'not the password');
    await page.click('#login');
    await page.waitForSelector('.notice.error');
    expect(await page.inputValue('#username')).toBe(SENDER);
    await expectAccessible(page, T, 'login-failed');
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await page.waitForURL(/\/console$/);
    expect((await page.textContent('#logout'))?.trim()).toBe('Sign out');
    await page.click('#logout');
    await page.waitForURL(/out=1/);
    expect(await page.textContent('.notice')).toContain('You are signed out.');
  });

  it('item 7 and 6: one entry per composition, search, retract all after asking', async () => {
    const page = await newPage();
    await signIn(page);
    await compose(page, { to: 'bob@dest.test, carol@dest.test', subject: 'Lab results March' });
    await page.setInputFiles('#files', { name: 'blood-count.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4') });
    await page.click('#send');
    await page.waitForURL(/sent=2/);
    const entry = page.locator('li.composition', { hasText: 'Lab results March' });
    expect(await entry.textContent()).toMatch(/1 attachment: blood-count\.pdf[\s\S]*bob@dest\.test[\s\S]*carol@dest\.test/);
    expect(await entry.locator('li.recipient').count()).toBe(2);
    await expectAccessible(page, T, 'list');
    await page.fill('#q', 'BLOOD-count');
    await page.click('#search');
    await page.waitForURL(/q=BLOOD-count/);
    expect(await page.locator('li.composition').count()).toBe(1);
    await expectAccessible(page, T, 'search');
    await page.click('li.composition h2 a');
    await page.waitForURL(/\/console\/m\//);
    expect(await page.textContent('#subject')).toBe('Lab results March');
    expect(await page.textContent('#access-log thead')).toContain('IP address');
    await expectAccessible(page, T, 'message');
    await page.click('#retract-all');
    await page.waitForURL(/retract-all$/);
    expect(await page.textContent('#confirm-text')).toContain('all 2 recipients: bob@dest.test, carol@dest.test');
    await expectAccessible(page, T, 'retract-confirm');
    await page.click('#confirm-retract');
    await page.waitForURL(/done=retracted-all/);
    expect(await page.textContent('#subject')).toBe('(subject destroyed with the message)');
    await page.goto(`${base}/console`);
    expect(await page.locator('li.composition', { hasText: 'Lab results March' }).count()).toBe(0);
  });

  it('item 3: asks before a notice crosses a weak link and offers a passphrase', async () => {
    const page = await newPage();
    await signIn(page);
    await compose(page, { to: 'erin@plain.test', subject: 'Referral' });
    await page.click('#send');
    await page.waitForSelector('#weak-link');
    expect(await page.textContent('#weak-link')).toContain('Nothing is known yet about how plain.test takes mail');
    await expectAccessible(page, T, 'compose-weak-link');
    await page.check('input[name=verification][value=passphrase]');
    expect(await page.isVisible('#passphrase-hint')).toBe(true);
    expect(await page.textContent('#passphrase-hint')).toContain('by phone or in person');
    await page.fill('#passphrase', 'told on the phone');
    await page.click('#send');
    await page.waitForURL(/sent=1/);
  });

  it('item 9: the answer shows while typing; a lock is per recipient and the sender lifts it', async () => {
    const page = await newPage();
    await signIn(page);
    await compose(page, { to: 'bob@dest.test, dave@dest.test', subject: 'Question', verification: 'question', question: 'Our street?', answer: "St. Mary's" });
    expect(await page.getAttribute('#answer', 'type')).toBe('text');
    expect(await page.inputValue('#answer')).toBe("St. Mary's");
    expect(await page.textContent('#answer-hint')).toContain('upper and lower case, spaces and punctuation');
    await expectAccessible(page, T, 'compose-question');
    await page.click('#send');
    await page.waitForURL(/sent=2/);
    const bob = fixture.mails.filter((m) => m.envelope.to[0] === 'bob@dest.test').at(-1)!;
    const id = /\/m\/([A-Za-z0-9_-]{22})#/.exec(linkIn(bob.raw))![1]!;
    const password = decodeURIComponent(linkIn(bob.raw).split('#')[1]!);
    for (let i = 0; i < 3; i++) await fixture.pickup.open(id, { password, secret: 'wrong' }).catch(() => undefined);
    await page.goto(`${base}/console/m/${id}`);
    expect(await page.textContent('#locked')).toContain('Locked for bob@dest.test after 3 failed attempts at the answer');
    await expectAccessible(page, T, 'locked');
    await page.click('#unlock');
    await page.waitForURL(/done=unlocked/);
    expect(await page.textContent('.notice.ok')).toContain('The message to bob@dest.test is unlocked');
    expect((await fixture.pickup.open(id, { password, secret: 'st marys' })).subject).toBe('Question');
  });

  it('item 8: the reply mails the sender, "Reply" continues the thread, the recipient sees it', async () => {
    const sender = await newPage();
    await signIn(sender);
    await compose(sender, { to: 'bob@dest.test', subject: 'Consent form' });
    await sender.click('#send');
    await sender.waitForURL(/sent=1/);
    // The notice links to the configured public URL; the browser reaches this portal on its test port.
    const local = (link: string) => { const url = new URL(link); return `${base}${url.pathname}${url.hash}`; };
    const first = local(linkIn(fixture.mails.at(-1)!.raw));

    const recipient = await newPage();
    await recipient.goto(first);
    await recipient.click('#open');
    await recipient.waitForURL(/\/read$/);
    await recipient.fill('#reply-text', 'Signed, see you Monday.');
    await recipient.click('#send-reply');
    await recipient.waitForURL(/replied=1/);
    expect(fixture.mails.at(-1)!.envelope.to).toEqual([SENDER]);
    expect(fixture.mails.at(-1)!.raw.toString('utf8')).not.toContain('Signed, see you Monday');
    expect(await recipient.textContent('#thread')).toContain('Signed, see you Monday.');

    await sender.goto(`${base}/console`);
    await sender.click('li.composition:has-text("Consent form") li.recipient a');
    await sender.click('#replies a');
    await sender.waitForURL(/\/console\/reply\//);
    expect(await sender.textContent('#reply-text')).toBe('Signed, see you Monday.');
    await expectAccessible(sender, T, 'reply');
    await sender.click('#answer');
    await sender.waitForURL(/compose\?reply=/);
    expect(await sender.textContent('#reply-to')).toContain('To bob@dest.test, in the thread of your message “Consent form”');
    expect(await sender.inputValue('#subject')).toBe('Re: Consent form');
    await expectAccessible(sender, T, 'compose-reply');
    await sender.fill('#text', 'Thank you, see you Monday.');
    await sender.check('input[name=verification][value=link]');
    await sender.click('#send');
    await sender.waitForURL(/sent=1/);

    const second = local(linkIn(fixture.mails.at(-1)!.raw));
    const again = await newPage();
    await again.goto(second);
    await again.click('#open');
    await again.waitForURL(/\/read$/);
    expect(await again.textContent('#thread')).toMatch(/Consent form[\s\S]*Your reply[\s\S]*Signed, see you Monday\.[\s\S]*this message/);
    await expectAccessible(again, T, 'recipient-thread');
  });
});
