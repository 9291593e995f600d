import { expect, it } from 'vitest';
import { ANONYMOUS_PASSWORD, anonymousSubmissionRig } from '../helpers/anonymous-rig.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { until } from '../helpers/ports.ts';
import { runSwaks } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 7: the anonymity stripper looks for the client's address and names in each
 * field's raw text, but a recipient's mail program shows RFC 2047 encoded words decoded.
 * A field that spells the client's HELO name as `=?utf-8?B?…?=` or `=?utf-8?Q?…=2E…?=` (or an
 * IDN HELO, sent as A-labels, written in its Unicode form inside an encoded word) reached
 * Postfix untouched. Now a field is also read as its writer meant it (RFC 6532 UTF-8, encoded
 * words decoded) and against the Unicode form of an A-label name.
 */
const PASSWORD = ANONYMOUS_PASSWORD;
const CLIENT_IP = '127.0.0.5';
const HELO = 'xn--bro-rechner-thb.corp-anon.example'; // büro-rechner.corp-anon.example
const UNICODE_HELO = 'büro-rechner.corp-anon.example';
const b64 = (text: string) => `=?utf-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
const q = (text: string) => `=?utf-8?Q?${[...Buffer.from(text, 'utf8')].map((b) => (b < 0x80 && /[A-Za-z0-9-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')}?=`;

describeWithPeers(['root', 'postfix', 'swaks'], 'anonymous submission: names in encoded words', () => {
  const rig = anonymousSubmissionRig('i12-07');

  it('a field naming the client in B or Q encoded words, or by its Unicode name, does not reach Postfix', async () => {
    const sent = await runSwaks([
      '--server', `127.0.0.1:${rig.gateway().ports.submission}`, '--local-interface', CLIENT_IP, '--ehlo', HELO, '-tls',
      '--auth', 'PLAIN', '--auth-user', 'alice@users.test', '--auth-password', PASSWORD,
      '--from', 'alice@users.test', '--to', 'bob@anon.test',
      '--header', 'Subject: encoded traces',
      '--header', `X-Workstation: ${b64(HELO)}`,
      '--header', `X-Client-Host: ${q(HELO)}`,
      '--header', `X-Client-Addr: ${b64(`[${CLIENT_IP}]`)}`,
      '--header', `X-Device: ${q(UNICODE_HELO)}`,
      '--header', 'X-Kept: an unrelated field',
    ]);
    expect(sent.code, sent.stdout).toBe(0);
    await until(() => rig.postfix().messages().some((m) => m.raw.includes('Subject: encoded traces')), 30_000, 'delivery');
    const raw = rig.postfix().messages().find((m) => m.raw.includes('Subject: encoded traces'))!.raw;
    // What a mail program shows: every encoded word decoded.
    const shown = raw.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_, how: string, text: string) =>
      how.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : Buffer.from(text.replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));
    for (const trace of [CLIENT_IP, 'corp-anon', 'rechner']) expect(shown, `"${trace}" in\n${shown}`).not.toContain(trace);
    expect(raw).not.toMatch(/^X-(Workstation|Client-Host|Client-Addr|Device):/m);
    // The control: a field that names nothing of the client stays.
    expect(raw).toContain('X-Kept: an unrelated field');
  });
});
