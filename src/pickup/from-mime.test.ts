import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openTestStore } from '../../test/helpers/stores.ts';
import { mimeToParts, safeFilename, stripSubjectTag } from './from-mime.ts';
import type { PartInput } from './message-types.ts';
import { PickupStore } from './sealed-store.ts';

const crlf = (lines: string[]): string => lines.join('\r\n');
const base64Lines = (data: Buffer): string => data.toString('base64').replace(/.{76}/g, '$&\r\n');
const word = (text: string): string => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

interface Collected {
  kind: PartInput['kind'];
  contentType: string;
  filename?: string;
  content: Buffer;
}

/** Reads every part to its end before asking for the next, the way PickupStore.create does. */
async function collect(raw: Readable | string | Buffer): Promise<{ subject: string; parts: Collected[] }> {
  const source = raw instanceof Readable ? raw : Readable.from([Buffer.from(raw)]);
  const parsed = mimeToParts(source);
  const subject = await parsed.subject;
  const parts: Collected[] = [];
  for await (const part of parsed.parts) {
    let content: Buffer;
    if (typeof part.content === 'string') content = Buffer.from(part.content, 'utf8');
    else if (Buffer.isBuffer(part.content)) content = part.content;
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of part.content) chunks.push(chunk as Buffer);
      content = Buffer.concat(chunks);
    }
    parts.push({ kind: part.kind, contentType: part.contentType, filename: part.filename, content });
  }
  return { subject, parts };
}

describe('mimeToParts', () => {
  // First in the file, so the RSS figure is not blurred by the garbage of the other tests.
  it('streams a 60 MB attachment without holding it in memory', async () => {
    const SIZE = 60 * 1024 * 1024;
    // One random block, encoded once and sent again and again: the source itself makes no
    // garbage, so the RSS figure is the parser's and the consumer's.
    const block = randomBytes(57 * 1024);
    const encodedBlock = Buffer.from(`${base64Lines(block)}\r\n`);
    const sourceHash = createHash('sha256');
    let produced = 0;
    let stage: 'header' | 'body' | 'trailer' | 'done' = 'header';
    const source = new Readable({
      read() {
        if (stage === 'header') {
          stage = 'body';
          this.push(crlf(['Subject: =?UTF-8?Q?gro=C3=9F?=', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=b', '',
            '--b', 'Content-Type: text/plain', '', 'see attached', '',
            '--b', 'Content-Type: application/octet-stream', 'Content-Disposition: attachment; filename=big.bin', 'Content-Transfer-Encoding: base64', '', '']));
        } else if (stage === 'body') {
          produced += block.length;
          sourceHash.update(block);
          this.push(encodedBlock);
          if (produced >= SIZE) stage = 'trailer';
        } else if (stage === 'trailer') {
          stage = 'done';
          this.push('--b--\r\n');
        } else this.push(null);
      },
    });
    // What this process holds in JS: the heap and Buffers. RSS would count what other test files
    // allocate at the same time (Argon2's 19 MiB per hash) and what the allocator has not given back.
    const held = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
    const before = held();
    let peak = before;
    let lag = 0;
    const parsed = mimeToParts(source);
    expect(await parsed.subject).toBe('groß');
    const kinds: string[] = [];
    for await (const part of parsed.parts) {
      kinds.push(part.kind);
      if (part.kind !== 'attachment') continue;
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of part.content as Readable) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
        lag = Math.max(lag, produced - size);
        // A slow consumer, like the sealed store writing to disk: the parser must wait for it.
        if (size % (4 * 1024 * 1024) < (chunk as Buffer).length) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          peak = Math.max(peak, held());
        }
      }
      expect(size).toBe(produced);
      expect(hash.digest('hex')).toBe(sourceHash.digest('hex'));
    }
    expect(produced).toBeGreaterThanOrEqual(SIZE);
    expect(kinds).toEqual(['attachment', 'text']);
    // Back-pressure: the source is never read far ahead of what the consumer has taken.
    expect(lag).toBeLessThan(8 * 1024 * 1024);
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
  }, 60_000);

  it('splits nested multipart/mixed + related + alternative into attachments, text and raw HTML', async () => {
    const pdf = randomBytes(5 * 1024 * 1024);
    const logo = randomBytes(3000);
    const name = 'Bericht Q3 – Übersicht.pdf';
    const message = crlf([
      'From: Alice <alice@example.test>', 'To: bob@dest.test', `Subject: ${word('[secure] Zahlen für Q3')}`,
      'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="outer"', '',
      '--outer', 'Content-Type: multipart/related; boundary="rel"', '',
      '--rel', 'Content-Type: multipart/alternative; boundary="alt"', '',
      '--alt', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '',
      'Gr=C3=BC=C3=9Fe, hier die Zahlen. Eine sehr lange Zeile, die weich umbrochen =', 'wird.', '',
      '--alt', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '',
      '<p onclick="x()">Grüße <img src="cid:logo@x"></p>', '',
      '--alt--', '',
      '--rel', 'Content-Type: image/png', 'Content-ID: <logo@x>', 'Content-Disposition: inline', 'Content-Transfer-Encoding: base64', '',
      base64Lines(logo), '',
      '--rel--', '',
      '--outer', 'Content-Type: application/pdf', `Content-Disposition: attachment; filename="${word(name)}"`, 'Content-Transfer-Encoding: base64', '',
      base64Lines(pdf), '',
      '--outer', 'Content-Type: application/octet-stream', 'Content-Disposition: attachment; filename="../../etc/pass\twd"', '',
      'plain bytes',
      '--outer', 'Content-Type: application/octet-stream', `Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9.txt`, 'Content-Transfer-Encoding: base64', '',
      Buffer.from('au lait').toString('base64'), '',
      '--outer', 'Content-Type: application/octet-stream', 'Content-Disposition: attachment', 'Content-Transfer-Encoding: base64', '',
      Buffer.from('nameless').toString('base64'), '',
      '--outer--', '',
    ]);
    const { subject, parts } = await collect(message);
    expect(subject).toBe('[secure] Zahlen für Q3');
    expect(parts.map((p) => [p.kind, p.filename])).toEqual([
      ['attachment', 'attachment-1'], ['attachment', name], ['attachment', '.._.._etc_passwd'],
      ['attachment', 'café.txt'], ['attachment', 'attachment-5'], ['text', undefined], ['html', undefined],
    ]);
    expect(parts[0].contentType).toBe('image/png');
    expect(parts[0].content.equals(logo)).toBe(true);
    expect(parts[1].contentType).toBe('application/pdf');
    expect(parts[1].content.equals(pdf)).toBe(true);
    expect(parts[2].content.toString()).toBe('plain bytes');
    expect(parts[3].content.toString()).toBe('au lait');
    expect(parts[4].content.toString()).toBe('nameless');
    expect(parts[5].contentType).toBe('text/plain; charset=utf-8');
    expect(parts[5].content.toString('utf8')).toBe('Grüße, hier die Zahlen. Eine sehr lange Zeile, die weich umbrochen wird.\n');
    expect(parts[6].contentType).toBe('text/html; charset=utf-8');
    // Raw: the web tier sanitises at display, so nothing is stripped or rewritten here.
    expect(parts[6].content.toString('utf8')).toBe('<p onclick="x()">Grüße <img src="cid:logo@x"></p>\n');
  });

  it('takes a text-only message (8bit Latin-1) and derives no HTML', async () => {
    const body = Buffer.concat([Buffer.from('Hallo B'), Buffer.from([0xf6]), Buffer.from('rse,\r\nzweite Zeile.\r\n')]);
    const message = Buffer.concat([
      Buffer.from(crlf(['From: a@example.test', 'Subject: plain', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit', '', ''])),
      body,
    ]);
    const { subject, parts } = await collect(message);
    expect(subject).toBe('plain');
    expect(parts).toHaveLength(1);
    expect(parts[0]).toMatchObject({ kind: 'text', contentType: 'text/plain; charset=utf-8' });
    expect(parts[0].content.toString('utf8')).toBe('Hallo Börse,\nzweite Zeile.\n');
  });

  it('takes an HTML-only message and derives no text', async () => {
    const html = '<html><body><h1>Only HTML</h1><script>alert(1)</script></body></html>';
    const message = crlf(['From: a@example.test', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64', '', base64Lines(Buffer.from(html)), '']);
    const { subject, parts } = await collect(message);
    expect(subject).toBe('');
    expect(parts.map((p) => p.kind)).toEqual(['html']);
    expect(parts[0].content.toString('utf8').trim()).toBe(html);
  });

  it('gives the parse error through parts and stops reading the source when left early', async () => {
    const failing = new Readable({ read() { this.destroy(new Error('disk gone')); } });
    const parsed = mimeToParts(failing);
    await expect(parsed.subject).rejects.toThrow();
    await expect((async () => { for await (const _ of parsed.parts) { /* nothing */ } })()).rejects.toThrow('disk gone');

    let pulls = 0;
    const endless = new Readable({
      read() {
        pulls++;
        this.push(pulls === 1
          ? crlf(['Subject: big', 'Content-Type: application/octet-stream', 'Content-Disposition: attachment; filename=a.bin', 'Content-Transfer-Encoding: base64', '', ''])
          : `${randomBytes(57 * 100).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`);
      },
    });
    const stopped = mimeToParts(endless);
    for await (const part of stopped.parts) {
      expect(part.kind).toBe('attachment');
      break;
    }
    expect(endless.destroyed).toBe(true);
  });

});

describe('mimeToParts into PickupStore.create', () => {
  it('stores a [secure] message part by part and opens it byte-identical', async () => {
    const test = await openTestStore('sqlite');
    try {
      const pickup = new PickupStore({ store: test.store, masterKey: randomBytes(32), dataDir: test.dir });
      const attachment = randomBytes(2 * 1024 * 1024 + 17);
      const message = crlf([
        'From: alice@example.test', 'Subject: [secure] Lab results', 'Content-Type: multipart/mixed; boundary=m', '',
        '--m', 'Content-Type: text/plain; charset=utf-8', '', 'Creatinine is fine.', '',
        '--m', 'Content-Type: application/pdf; name=results.pdf', 'Content-Transfer-Encoding: base64', '', base64Lines(attachment), '',
        '--m--', '',
      ]);
      const parsed = mimeToParts(Readable.from([Buffer.from(message)]));
      const { subject, tagged } = stripSubjectTag(await parsed.subject);
      expect(tagged).toBe(true);
      const { id, messagePassword } = await pickup.create({ sender: 'alice@example.test', recipient: 'bob@dest.test', subject, parts: parsed.parts, verification: 'link' });
      const opened = await pickup.open(id, { password: messagePassword }, { ip: '127.0.0.1' });
      expect(opened.subject).toBe('Lab results');
      expect(opened.parts.map((p) => [p.kind, p.filename])).toEqual([['attachment', 'results.pdf'], ['text', null]]);
      const read = async (idx: number) => Buffer.concat(await opened.openPart(idx).toArray());
      expect((await read(0)).equals(attachment)).toBe(true);
      expect((await read(1)).toString()).toBe('Creatinine is fine.\n');
    } finally {
      await test.cleanup();
    }
  });
});

describe('safeFilename', () => {
  it('keeps ordinary names and cleans hostile ones', () => {
    expect(safeFilename('Bericht Q3.pdf', 1)).toBe('Bericht Q3.pdf');
    expect(safeFilename('C:\\Users\\x\\evil.exe', 1)).toBe('C:_Users_x_evil.exe');
    expect(safeFilename('invoice\u202Efdp.exe', 2)).toBe('invoicefdp.exe');
    expect(safeFilename('a\r\nb\u0000.txt', 3)).toBe('ab.txt');
    expect(safeFilename('..', 4)).toBe('attachment-4');
    expect(safeFilename('  ', 5)).toBe('attachment-5');
    expect(safeFilename(undefined, 6)).toBe('attachment-6');
    const long = safeFilename(`${'x'.repeat(300)}.pdf`, 7);
    expect(long).toHaveLength(200);
    expect(long.endsWith('.pdf')).toBe(true);
  });
});

describe('stripSubjectTag', () => {
  it.each([
    ['[secure] Quarterly figures', 'Quarterly figures', true],
    ['Quarterly figures [SECURE]', 'Quarterly figures', true],
    ['Re:  [Secure]   figures', 'Re: figures', true],
    ['Re:[secure]figures', 'Re: figures', true],
    ['[secure][secure] twice', 'twice', true],
    ['[secure]', '', true],
    ['secure figures', 'secure figures', false],
    ['[insecure] figures', '[insecure] figures', false],
    ['Keep  my   spacing', 'Keep  my   spacing', false],
  ])('%j → %j', (input, subject, tagged) => {
    expect(stripSubjectTag(input)).toEqual({ subject, tagged });
  });

  it('takes another tag, regex characters and all, and ignores an empty one', () => {
    expect(stripSubjectTag('Hello (encrypt+) there', '(ENCRYPT+)')).toEqual({ subject: 'Hello there', tagged: true });
    expect(stripSubjectTag('Hello [secure]', '')).toEqual({ subject: 'Hello [secure]', tagged: false });
  });
});
