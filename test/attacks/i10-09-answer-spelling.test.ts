import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { httpsClient } from '../helpers/portal-socket.ts';
import { freePort } from '../helpers/ports.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 10 item 9, attacker's pass on how a question's answer is compared.
 * 1. A clinic mails `Sealgate-Secure: question=Geburtsort?; answer=München` (the header in
 *    UTF-8, RFC 6532). Submission read the header block as latin1 and sealed the answer as
 *    "MÃ¼nchen": the patient typing "München" could never open it and locked the message
 *    after ten tries; the portal asked "Geburtsort?" fine only because it is ASCII.
 * 2. An answer of punctuation only ("???", "--") passes "not empty", but its compared form
 *    is empty: any recipient (or whoever has a forwarded notice) opens the message by typing
 *    "." — the sender believes the message needs an answer it does not need. It is refused,
 *    in compose and at submission, with a reason.
 * Both failed before the change (the first could not open, the second opened with ".").
 */
const PASSWORD = 'correct horse battery staple';

describe('i10-09 an answer compares as the sender wrote it, and is never empty', async () => {
  const webPort = await freePort();
  const rig = gatewayWithSmarthost({ prefix: 'i10-09', users: ['alice@corp.test'], password: PASSWORD, config: { web: { enabled: true, host: '127.0.0.1', port: webPort } } });

  async function submit(field: Buffer, messageId: string): Promise<string> {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<alice@corp.test> BODY=8BITMIME SMTPUTF8')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<patient@corp.test>')).toMatch(/^250/);
    const reply = await sendData(client, Buffer.concat([
      Buffer.from(`From: alice@corp.test\r\nTo: patient@corp.test\r\nSubject: Befund\r\nMessage-ID: <${messageId}@corp.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n`, 'latin1'),
      field, Buffer.from('\r\n\r\nKreatinin 1,1 mg/dL\r\n', 'latin1'),
    ]));
    client.close();
    return reply;
  }

  /** The newest notice's link id and message password, as the patient's mailbox shows them. */
  async function lastNotice(count: number): Promise<{ id: string; password: string }> {
    await rig.rx.until(count, 15_000);
    const text = rig.rx.transactions().at(-1)!.data.toString('utf8');
    return { id: text.match(/\/m\/([A-Za-z0-9_-]{22})#/)![1], password: text.match(/^Message password:\r?\n\s+(\S+)\s*$/m)![1] };
  }

  async function tryAnswer(notice: { id: string; password: string }, answer: string) {
    const client = httpsClient(webPort);
    const page = await client.request('GET', `/m/${notice.id}`);
    const opened = await client.request('POST', `/m/${notice.id}`, { _csrf: client.cookie('__Host-sg-csrf')!, password: notice.password, secret: answer });
    return { page, opened };
  }

  it('a UTF-8 answer in Sealgate-Secure opens with the answer as the sender wrote it', async () => {
    const reply = await submit(Buffer.from('Sealgate-Secure: question=Wo sind Sie geboren?; answer=München', 'utf8'), 'utf8-answer');
    expect(reply).toMatch(/^250/);
    const notice = await lastNotice(1);
    const { page, opened } = await tryAnswer(notice, 'münchen');
    expect(page.body).toContain('Wo sind Sie geboren?');
    expect(opened.headers.location).toBe(`/m/${notice.id}/read`);
  });

  it('an answer of punctuation only is refused at submission, with a reason and no pickup', async () => {
    for (const answer of ['???', '--', '…']) {
      const reply = await submit(Buffer.from(`Sealgate-Secure: question=Our clinic?; answer=${answer}`, 'utf8'), `empty-${answer.length}`);
      expect(reply).toMatch(/^550 5\.6\.0 .*answer/i);
    }
  });

  it('compose refuses an answer of punctuation or invisible characters only, and says why', async () => {
    const sender = httpsClient(webPort);
    await sender.request('GET', '/console/login');
    const csrf = sender.cookie('__Host-sg-csrf')!;
    expect((await sender.request('POST', '/console/login', { _csrf: csrf, username: 'alice@corp.test', password: PASSWORD })).headers.location).toBe('/console');
    const before = rig.rx.transactions().length;
    for (const answer of ['?!', '\u200b\u00ad', '— …']) {
      const form = multipart([['_csrf', csrf], ['recipients', 'patient@corp.test'], ['subject', 'Befund'], ['text', 'Kreatinin'], ['verification', 'question'], ['question', 'Our clinic?'], ['answer', answer], ['days', '7'], ['weakLinkOk', 'on']], []);
      const sent = await sender.request('POST', '/console/compose', { type: form.type, bytes: form.body });
      expect(sent.status).toBe(400);
      expect(sent.body).toContain('at least one letter or digit');
    }
    // The positive control: the same form with a real answer is sent.
    const form = multipart([['_csrf', csrf], ['recipients', 'patient@corp.test'], ['subject', 'Befund'], ['text', 'Kreatinin'], ['verification', 'question'], ['question', 'Our clinic?'], ['answer', 'St. Mary\u00ads'], ['days', '7'], ['weakLinkOk', 'on']], []);
    expect((await sender.request('POST', '/console/compose', { type: form.type, bytes: form.body })).headers.location).toBe('/console?sent=1');
    await rig.rx.until(before + 1, 15_000);
    // A soft hyphen pasted into the answer does not make it one the recipient cannot type.
    const notice = await lastNotice(before + 1);
    expect((await tryAnswer(notice, 'st marys')).opened.headers.location).toBe(`/m/${notice.id}/read`);
  });
});
