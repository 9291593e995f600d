import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsClient, startPortal } from '../helpers/portal-socket.ts';

/*
 * Issue 9 item 16, beyond bidi: a name can hide its real end without reordering it. C1 controls
 * (U+0085 NEL), line and paragraph separators (U+2028/9), zero-width space, word joiner and the
 * invisible operators (U+2060-2064), BOM (U+FEFF) and the soft hyphen survived in shown subjects
 * and in the name a download is saved under (`invoice.pdf\u2028\u200B.exe` saved as is). They are
 * removed like the bidi controls; ZWNJ/ZWJ (U+200C/D) stay, scripts and emoji need them.
 */

const HIDDEN = '\u0085\u009b\u2028\u2029\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad';
const ENCODED = /%C2%85|%C2%9B|%E2%80%A[89]|%E2%80%8B|%E2%81%A[0-4]|%EF%BB%BF|%C2%AD/i;

describe('invisible and separator characters never reach a shown or saved name', () => {
  let portal: Awaited<ReturnType<typeof startPortal>>;
  beforeAll(async () => {
    portal = await startPortal();
  }, 20_000);
  afterAll(async () => {
    await portal?.stop();
  });

  it('a mailed pickup: subject shown and file name downloaded without them', async () => {
    const { id, messagePassword } = await portal.fixture.pickup.create({
      sender: 'alice@example.test', recipient: 'bob@dest.test', subject: `Pay${HIDDEN}slip`, verification: 'link',
      parts: [{ kind: 'text', contentType: 'text/plain', content: 'see attachment' }, { kind: 'attachment', contentType: 'application/octet-stream', filename: `invoice.pdf${HIDDEN}.exe`, content: Buffer.from('MZ') }],
    });
    const client = httpsClient(portal.port);
    await client.request('GET', `/m/${id}`);
    expect((await client.request('POST', `/m/${id}`, { _csrf: client.cookie('__Host-sg-csrf')!, password: messagePassword })).headers.location).toBe(`/m/${id}/read`);
    const read = await client.request('GET', `/m/${id}/read`);
    expect(read.status).toBe(200);
    for (const ch of HIDDEN) expect(read.body.includes(ch), `U+${ch.codePointAt(0)!.toString(16)}`).toBe(false);
    expect(read.body).toContain('Payslip');
    expect(read.body).toContain('invoice.pdf.exe');
    const part = read.body.match(/href="(\/m\/[^"]+\/part\/\d+)"/)![1];
    const download = await client.request('GET', part);
    const disposition = String(download.headers['content-disposition']);
    expect(disposition).toBe(`attachment; filename="invoice.pdf.exe"; filename*=UTF-8''invoice.pdf.exe`);
    expect(disposition).not.toMatch(ENCODED);
  });
});
