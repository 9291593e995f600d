import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDns, type DnsServer } from '../../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../../helpers/gateway.ts';
import { CHROMIUM, hasChromium, launchChromium, newPortalContext } from '../../helpers/browser.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { filesUnder, freePort, tempDir, until } from '../../helpers/ports.ts';
import { startPostfix, type PostfixInstance } from '../../helpers/postfix.ts';
import { submitAs } from '../../helpers/swaks.ts';

/*
 * The whole Secure Message Pickup round trip with the real gateway process: swaks submits a
 * `[secure]` message with an attachment; the gateway holds it and e-mails a notice that
 * Postfix (the recipient's MX, dest.test on 127.0.0.31) delivers to a mailbox; Chromium opens
 * the link, asks for a one-time code (which arrives the same way), reads, downloads, replies;
 * the sender's console shows the reply and the access log; retraction withdraws it, and a
 * database backup taken before the retraction, put back, does not bring it back.
 * plain.test (127.0.0.32, no TLS) is a "TLS or pickup" destination.
 */
const PASSWORD = 'correct horse battery staple';
const SHOTS = path.resolve(import.meta.dirname, '../../artifacts/pickup');
const SUBJECT = 'Lab results for Mr Example';
const BODY = 'Dear Bob, the results are attached. Creatinine 1.1 mg/dL.';

if (!hasChromium()) console.warn(`SKIP pickup round trip: ${CHROMIUM} is missing (run scripts/install-peers.sh as root)`);

describeWithPeers(['root', 'postfix', 'swaks', 'dnsmasq', ...(hasChromium() ? [] : ['chromium'])], 'Secure Message Pickup round trip with real peers', () => {
  const temp = tempDir('pickup');
  let dns: DnsServer;
  let destMx: PostfixInstance;
  let plainMx: PostfixInstance;
  let gateway: GatewayProcess;
  let browser: Browser;
  let webPort: number;

  const submit = submitAs(() => gateway.ports.submission, PASSWORD);

  /** The newest mail in a mailbox whose raw text matches, parsed (MIME decoded). */
  async function mailMatching(box: PostfixInstance, test: (text: string) => boolean, what: string) {
    let found: Awaited<ReturnType<typeof simpleParser>> | undefined;
    await until(async () => {
      for (const message of [...box.messages()].reverse()) {
        const parsed = await simpleParser(message.raw);
        if (test(`${parsed.subject ?? ''}\n${parsed.text ?? ''}`)) {
          found = parsed;
          return true;
        }
      }
      return false;
    }, 20_000, what);
    return found!;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const port = await freePort('127.0.0.31');
    dns = await startDns({
      mx: [
        { domain: 'dest.test', host: 'mx.dest.test', pref: 10 },
        { domain: 'sender.test', host: 'mx.dest.test', pref: 10 },
        { domain: 'plain.test', host: 'mx.plain.test', pref: 10 },
      ],
      a: [
        { name: 'mx.dest.test', ip: '127.0.0.31' },
        { name: 'mx.plain.test', ip: '127.0.0.32' },
      ],
    });
    [destMx, plainMx] = await Promise.all([
      startPostfix({ ip: '127.0.0.31', port, name: 'mx.dest.test', mode: 'accept', domains: ['dest.test', 'sender.test'] }),
      startPostfix({ ip: '127.0.0.32', port, name: 'mx.plain.test', mode: 'accept', domains: ['plain.test'] }),
    ]);
    webPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port, connectTimeoutMs: 3000, commandTimeoutMs: 30_000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [1000], pollIntervalMs: 200 },
      web: { host: '127.0.0.1', port: webPort, publicUrl: `https://127.0.0.1:${webPort}` },
      pickup: { tlsOrPickupDomains: ['plain.test'] },
    });
    expect((await gateway.cli('user', 'add', 'alice@sender.test', '--password', PASSWORD)).code).toBe(0);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.kill();
    await Promise.all([destMx?.stop(), plainMx?.stop()]);
    await dns?.stop();
    temp.cleanup();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  it('swaks [secure] → notice in the mailbox → code → read → download → reply → console → retraction', async () => {
    const attachment = randomBytes(3 * 1024 * 1024);
    const attachmentFile = path.join(temp.dir, 'results.pdf');
    writeFileSync(attachmentFile, attachment);
    const sent = await submit('bob@dest.test', ['--header', `Subject: [secure] ${SUBJECT}`, '--body', BODY, '--attach-type', 'application/pdf', '--attach', `@${attachmentFile}`]);
    expect(sent.code, sent.stdout).toBe(0);

    // The notice: neutral, only the link and the password; nothing of the message.
    const notice = await mailMatching(destMx, (t) => t.includes('/m/'), 'the notice');
    expect(notice.subject).toBe('You have a secure message');
    const raw = destMx.messages().map((m) => m.raw).join('\n');
    expect(raw).not.toContain(SUBJECT);
    expect(raw).not.toContain('Creatinine');
    const link = /https:\/\/127\.0\.0\.1:\d+\/m\/[A-Za-z0-9_-]+#[A-Za-z0-9%-]+/.exec(notice.text ?? '')?.[0];
    expect(link, notice.text).toBeDefined();
    const password = decodeURIComponent(link!.split('#')[1]);
    expect(notice.text).toContain(password); // printed for typing too
    expect(notice.html || '').toContain(password);

    const context = await newPortalContext(browser);
    const requested: string[] = [];
    context.on('request', (request) => requested.push(request.url()));
    const page = await context.newPage();
    await page.goto(link!);
    // Verified by code: the first page only asks for a code; the password comes with it.
    await page.click('#send-code');
    await page.waitForURL(/\?sent=1/);
    expect(await page.inputValue('#password')).toBe(password); // filled from the link's fragment
    const codeMail = await mailMatching(destMx, (t) => /\b\d{6}\b/.test(t) && /code/i.test(t), 'the one-time code');
    const code = /\b(\d{6})\b/.exec(codeMail.text ?? '')![1];
    await page.fill('#code', code);
    await page.click('#open');
    await page.waitForURL(/\/read$/);
    expect(await page.textContent('#subject')).toBe(SUBJECT); // the tag is gone
    expect(await page.textContent('#text-body')).toContain(BODY);
    await shot(page, '01-read');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=results.pdf')]);
    const downloaded = readFileSync(await download.path());
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(createHash('sha256').update(attachment).digest('hex'));

    await page.fill('#reply-text', 'Thank you, received.');
    await page.setInputFiles('#reply-files', { name: 'ack.txt', mimeType: 'text/plain', buffer: Buffer.from('acknowledged\n') });
    await page.click('#send-reply');
    await page.waitForURL(/\?replied=1/);

    // The sender: the reply and the access log in the console.
    await page.goto(`https://127.0.0.1:${webPort}/console`);
    await page.fill('#username', 'alice@sender.test');
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await page.waitForURL(/\/console$/);
    const row = page.locator('#messages li.recipient', { hasText: 'bob@dest.test' });
    expect(await row.textContent()).toContain('replied');
    await row.locator('a').click();
    await page.waitForURL(/\/console\/m\/[A-Za-z0-9_-]+$/);
    const messagePage = page.url();
    const log = (await page.textContent('#access-log')) ?? '';
    for (const event of ['created', 'notice sent', 'one-time code sent', 'opened', 'attachment downloaded', 'replied']) expect(log).toContain(event);
    await page.click('#replies a');
    expect(await page.textContent('#reply-text')).toBe('Thank you, received.');
    await shot(page, '02-console-reply');
    expect(requested.filter((url) => new URL(url).origin !== `https://127.0.0.1:${webPort}`)).toEqual([]);

    // Nothing readable at rest anywhere in the data folder.
    const dataDir = path.join(gateway.dir, 'data');
    const needles = [SUBJECT, 'Creatinine', 'Thank you, received', 'acknowledged'].map((s) => Buffer.from(s));
    needles.push(attachment.subarray(2_000_000, 2_000_064));
    for (const file of filesUnder(dataDir)) {
      const content = readFileSync(file);
      for (const needle of needles) expect(content.includes(needle), `${file} holds plaintext`).toBe(false);
    }

    // A backup of the database taken now, before the retraction (SQLite's online backup).
    const backup = path.join(temp.dir, 'backup.db');
    const live = new Database(path.join(dataDir, 'sealgate.db'), { readonly: true });
    await live.backup(backup);
    live.close();

    await page.goto(messagePage);
    await page.click('#retract');
    await page.click('#confirm-retract');
    await page.waitForURL(/done=retracted/);
    await page.goto(link!);
    expect(await page.textContent('h1')).toBe('Message withdrawn');

    // Put the old database back: the message stays withdrawn (its server share is gone).
    await gateway.kill();
    for (const name of readdirSync(dataDir).filter((n) => n.startsWith('sealgate.db'))) rmSync(path.join(dataDir, name));
    copyFileSync(backup, path.join(dataDir, 'sealgate.db'));
    await gateway.restart();
    expect((await gateway.cli('queue', 'list', '--all')).code).toBe(0);
    const fresh = await newPortalContext(browser);
    const again = await fresh.newPage();
    await again.goto(link!);
    expect(await again.textContent('h1')).toBe('Message withdrawn');
    await shot(again, '03-withdrawn-after-restore');
    await fresh.close();
    await context.close();
  });

  it('holds mail for a "TLS or pickup" destination without TLS, and a requirement no MX meets', async () => {
    const before = plainMx.messages().length;
    expect((await submit('carol@plain.test', ['--header', 'Subject: plain destination', '--body', 'never in the clear'])).code).toBe(0);
    await until(() => plainMx.messages().length > before, 20_000, 'notice to plain.test');
    const arrived = plainMx.messages().slice(before).map((m) => m.raw).join('\n');
    expect(arrived).not.toContain('never in the clear');
    expect(arrived).toMatch(/\/m\/[A-Za-z0-9_-]+#/);
    // A sender requirement that no MX of dest.test meets goes to pickup instead of bouncing.
    const count = destMx.messages().length;
    expect((await submit('dan@dest.test', ['--header', 'Subject: verified only', '--add-header', 'Sealgate-Require: tls-verified', '--body', 'needs a verified link'])).code).toBe(0);
    await until(() => destMx.messages().slice(count).some((m) => m.raw.includes('/m/')), 20_000, 'notice for the requirement fallback');
    const fresh = destMx.messages().slice(count).map((m) => m.raw).join('\n');
    expect(fresh).not.toContain('needs a verified link');
    expect(fresh).not.toMatch(/multipart\/report/);
  });
});
