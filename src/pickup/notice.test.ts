import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildCodeMail, buildNotice, buildReadNotice, quotedPrintable, type NoticeInput } from './notice.ts';

const PASSWORD = 'AB12-CD34-EF56-GH78-JK9M-NPQR-STVW';
const LINK = `https://portal.example.test:8443/m/AbCdEfGhIjKlMnOpQrStUv#${encodeURIComponent(PASSWORD)}`;
const notice: NoticeInput = {
  from: 'no-reply@gw.example.test', to: 'bob@dest.test', link: LINK, messagePassword: PASSWORD,
  senderDisplay: 'alice@example.test', expiresAt: new Date('2031-05-06T07:08:09Z'),
  messageId: '<notice1@gw.example.test>', date: new Date('2031-04-06T07:08:09Z'), hostname: 'gw.example.test',
};

/** Header block lines (unfolded text kept as is) and the body. */
function split(raw: Buffer): { head: string[]; lines: string[] } {
  const text = raw.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, end).split('\r\n'), lines: text.split('\r\n') };
}

function expectWellFormed(raw: Buffer): void {
  const text = raw.toString('utf8');
  expect(text).not.toMatch(/(^|[^\r])\n/); // CRLF only
  expect(/^[\x00-\x7f]*$/.test(text)).toBe(true); // 7-bit on the wire: QP and encoded words
  const { head, lines } = split(raw);
  for (const line of head) expect(line.length).toBeLessThanOrEqual(78);
  for (const line of lines) expect(line.length).toBeLessThanOrEqual(998);
  for (const line of lines.slice(head.length)) expect(line.length).toBeLessThanOrEqual(78);
}

describe('buildNotice', () => {
  it('is a multipart/alternative auto-generated mail with the link and password in both parts', async () => {
    const raw = buildNotice(notice);
    expectWellFormed(raw);
    const { head } = split(raw);
    expect(head).toContain('Auto-Submitted: auto-generated');
    expect(head).toContain('MIME-Version: 1.0');
    expect(head).toContain('Message-ID: <notice1@gw.example.test>');
    expect(head).toContain('Date: Sun, 06 Apr 2031 07:08:09 +0000');
    expect(head).toContain('To: <bob@dest.test>');
    expect(head).toContain('From: "Sealgate" <no-reply@gw.example.test>');
    expect(raw.toString()).toMatch(/\r\nContent-Type: multipart\/alternative;\r\n boundary="sg-alt-[0-9a-f]+"\r\n/);

    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe('You have a secure message');
    for (const body of [parsed.text!, parsed.html as string]) {
      expect(body).toContain(PASSWORD);
      expect(body).toContain('alice@example.test');
      expect(body).toContain('6 May 2031, 07:08 UTC');
      expect(body).toContain('never asks for the password of your e-mail account');
    }
    expect(parsed.text).toContain(LINK);
    expect(parsed.text).toMatch(/^ {4}AB12-CD34-EF56-GH78-JK9M-NPQR-STVW$/m);
    expect(parsed.html).toContain(`href="${LINK}"`);
    expect(raw.toString()).toContain('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable');
    expect(raw.toString()).toContain('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable');
  });

  it('carries nothing of the secured message, even if a caller hands it over', async () => {
    const secret = { secretSubject: 'Merger with Globex', body: 'The price is 42 million' };
    const raw = buildNotice({ ...notice, ...secret } as NoticeInput);
    const parsed = await simpleParser(raw);
    for (const text of [raw.toString(), parsed.text ?? '', String(parsed.html), parsed.subject ?? '']) {
      expect(text).not.toContain('Globex');
      expect(text).not.toContain('42 million');
    }
  });

  it('escapes a hostile sender display name in the HTML and keeps it on one line in the text', async () => {
    const hostile = '"Bank" <img src=x onerror=alert(1)>\r\nBcc: victim@x.test\u202Egpj.exe & \'quoted\' `tick`';
    const raw = buildNotice({ ...notice, senderDisplay: hostile });
    expectWellFormed(raw);
    const parsed = await simpleParser(raw);
    const html = String(parsed.html);
    expect(html).not.toContain('<img');
    expect(html).toContain('&quot;Bank&quot; &lt;img src=x onerror=alert(1)&gt; Bcc: victim@x.test gpj.exe &amp; &#39;quoted&#39; &#96;tick&#96;');
    expect(parsed.text).toContain('Bank" <img src=x onerror=alert(1)> Bcc: victim@x.test gpj.exe');
    expect(parsed.text).not.toContain('\u202E');
    expect(parsed.headers.has('bcc')).toBe(false);
  });

  it('takes a custom subject, folded or encoded within 78 characters', async () => {
    const german = 'Sie haben eine sichere Nachricht – bitte mit dem Kennwort öffnen, das in dieser E-Mail steht';
    const raw = buildNotice({ ...notice, subject: german });
    expectWellFormed(raw);
    expect((await simpleParser(raw)).subject).toBe(german);
    const long = 'A neutral but rather long subject line that a cautious administrator configured for notices';
    const ascii = buildNotice({ ...notice, subject: long });
    expectWellFormed(ascii);
    expect((await simpleParser(ascii)).subject).toBe(long);
  });

  it('refuses a link that is not https or lacks the password fragment, and odd addresses', () => {
    expect(() => buildNotice({ ...notice, link: 'http://portal.example.test/m/x#pw' })).toThrow(/https link/);
    expect(() => buildNotice({ ...notice, link: 'https://portal.example.test/m/x' })).toThrow(/fragment/);
    expect(() => buildNotice({ ...notice, to: 'bob@dest.test\r\nBcc: eve@x.test' })).toThrow(/plain address/);
    expect(() => buildNotice({ ...notice, messageId: '<a@b>\r\nX: y' })).toThrow(/Message-ID/);
  });
});

describe('buildCodeMail and buildReadNotice', () => {
  it('puts the code alone on an indented line in both parts', async () => {
    const raw = buildCodeMail({ from: 'no-reply@gw.example.test', to: 'bob@dest.test', code: '042917', messageId: '<c@gw.example.test>', date: new Date() });
    expectWellFormed(raw);
    expect(raw.toString()).toMatch(/^\s+(\d{6})\s*$/m);
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe('Your one-time code');
    expect(parsed.text).toMatch(/^ {4}042917$/m);
    expect(parsed.text).toContain('valid for 10 minutes');
    expect(String(parsed.html)).toContain('042917');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
  });

  it('tells the sender who opened the message and when, nothing more', async () => {
    const openedAt = new Date('2031-04-07T10:00:00Z');
    const raw = buildReadNotice({ from: 'no-reply@gw.example.test', to: 'alice@example.test', recipient: 'bob@dest.test', openedAt, date: openedAt });
    expectWellFormed(raw);
    expect(raw.toString()).toContain('was opened');
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe('Your secure message was opened');
    expect(parsed.messageId).toMatch(/@gw\.example\.test>$/);
    for (const body of [parsed.text!, String(parsed.html)]) {
      expect(body).toContain('bob@dest.test');
      expect(flat(body)).toContain('7 Apr 2031, 10:00 UTC');
    }
  });
});

/** The text with line breaks of the word wrap as spaces. */
const flat = (text: string | undefined): string => (text ?? '').replace(/\s+/g, ' ');

describe('branding in the mails (branding.*)', () => {
  const brand = { organisation: 'St. Mary’s Clinic', contact: 'Questions? Call 030 1234 567 <weekdays> & ask for Records.' };

  it('puts the organisation in the From name and the foot, the contact line above it, in both parts', async () => {
    const raw = buildNotice({ ...notice, ...brand });
    expectWellFormed(raw);
    const parsed = await simpleParser(raw);
    expect(parsed.from?.value).toEqual([{ address: 'no-reply@gw.example.test', name: 'St. Mary’s Clinic' }]);
    expect(parsed.text).toContain('Questions? Call 030 1234 567 <weekdays> & ask for Records.\n\n-- \nSt. Mary’s Clinic secure mail at gw.example.test');
    const html = String(parsed.html);
    expect(html).toContain('<p>Questions? Call 030 1234 567 &lt;weekdays&gt; &amp; ask for Records.</p>');
    expect(html).toContain('St. Mary’s Clinic secure mail at gw.example.test');
    expect(parsed.subject).toBe('You have a secure message');
  });

  it('takes the configured intro with {sender} and {organisation}, escaped in the HTML', async () => {
    const raw = buildNotice({ ...notice, ...brand, senderDisplay: 'dr.<b>who</b>@clinic.test', intro: 'Your results from {organisation} are ready ({sender}).' });
    const parsed = await simpleParser(raw);
    expect(flat(parsed.text)).toContain('Your results from St. Mary’s Clinic are ready (dr.<b>who</b>@clinic.test).');
    expect(String(parsed.html)).toContain('<p>Your results from St. Mary’s Clinic are ready (dr.&lt;b&gt;who&lt;/b&gt;@clinic.test).</p>');
    expect(String(parsed.html)).not.toContain('<b>who');
  });

  it('writes every mail in the configured language: notice, code and read notice in German', async () => {
    const notice_de = await simpleParser(buildNotice({ ...notice, ...brand, locale: 'de' }));
    expect(notice_de.subject).toBe('Sie haben eine sichere Nachricht');
    expect(flat(notice_de.text)).toContain('alice@example.test hat Ihnen eine sichere Nachricht geschickt.');
    expect(flat(notice_de.text)).toContain('Die Nachricht kann bis 6. Mai 2031, 07:08 UTC gelesen werden.');
    expect(flat(notice_de.text)).toContain('Sichere E-Mail von St. Mary’s Clinic über gw.example.test');
    expect(String(notice_de.html)).toContain('<html lang="de">');
    const code = await simpleParser(buildCodeMail({ from: 'n@gw.example.test', to: 'bob@dest.test', code: '123456', locale: 'de', ...brand }));
    expect(code.subject).toBe('Ihr Einmalcode');
    expect(flat(code.text)).toContain('Er gilt 10 Minuten.');
    expect(code.from?.value[0].name).toBe('St. Mary’s Clinic');
    const read = await simpleParser(buildReadNotice({ from: 'n@gw.example.test', to: 'alice@example.test', recipient: 'bob@dest.test', openedAt: new Date('2031-04-07T10:00:00Z'), locale: 'de' }));
    expect(read.subject).toBe('Ihre sichere Nachricht wurde geöffnet');
    expect(flat(read.text)).toContain('Ihre sichere Nachricht an bob@dest.test wurde am 7. Apr. 2031, 10:00 UTC geöffnet.');
  });
});

describe('quotedPrintable', () => {
  it('encodes =, non-ASCII, trailing spaces and long lines, and decodes back', async () => {
    const text = `a=b ü trailing \n${'x'.repeat(200)}\nFrom here\n.dot`;
    const encoded = quotedPrintable(text);
    for (const line of encoded.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(encoded).toContain('a=3Db =C3=BC trailing=20');
    expect(encoded).toContain('=46rom here');
    const raw = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${encoded}`);
    expect((await simpleParser(raw)).text).toBe(text);
  });
});
