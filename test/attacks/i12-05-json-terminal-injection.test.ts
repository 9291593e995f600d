import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 5: terminal injection through --json. The plain printouts of `receipt`,
 * `trace` and `analyze` spell every terminal control as \uXXXX (i10-01), but `--json` wrote
 * what strangers wrote as it came: JSON.stringify escapes C0 only. A remote server's reply
 * with a bidi override (the reply reader keeps it: it is not a control byte) reached the
 * terminal of `sealgate receipt ID --json` and `trace --json`; a Received field with C1 bytes
 * (CSI U+009B, OSC U+009D: the header is read as latin1, so byte 0x9B is U+009B, and so is the
 * last byte of any UTF-8 character ending in 0x9B) reached that of `sealgate analyze --json`.
 * Now --json escapes them as \uXXXX too, which JSON reads back as the same characters. (Since
 * i13-13 the SMTP client also replaces bidi controls in a reply with '?' at the door, so the
 * receipt holds the reply with them replaced; the --json guard stays for every other field.)
 */
const PASSWORD = 'correct horse battery staple';
const RLO = '\u202e';
const LRI = '\u2066';
const HOSTILE_REPLY = `250 2.0.0 queued as 7A3F ${RLO}fdp.exe${LRI} done`;
const HOSTILE_CHARS = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;
const STORED_REPLY = HOSTILE_REPLY.replace(/[\u202e\u2066]/g, '?');

describe('--json output of hostile text', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'sg-i12-05-', users: ['alice@corp.test'], password: PASSWORD,
    recorder: { reply: (_line, stage) => (stage === 'dot' ? HOSTILE_REPLY : undefined) },
  });

  it('receipt --json and trace --json escape a bidi override in the server reply; the JSON still reads it back', async () => {
    const sent = await submitAs(() => rig.gateway.ports.submission, PASSWORD, 'alice@corp.test')('bob@corp.test', ['--header', 'Subject: hostile reply']);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    await until(async () => (await rig.gateway.cli('receipt', id)).code === 0, 20_000, 'a signed receipt');
    const plain = await rig.gateway.cli('receipt', id);
    expect(plain.stdout).not.toMatch(HOSTILE_CHARS);

    const json = await rig.gateway.cli('receipt', id, '--json');
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toMatch(HOSTILE_CHARS);
    expect(JSON.parse(json.stdout).receipts[0].receipt.reply).toBe(STORED_REPLY);

    const trace = await rig.gateway.cli('trace', '--to', 'bob@corp.test', '--json');
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stdout).not.toMatch(HOSTILE_CHARS);
    expect(JSON.parse(trace.stdout)[0].receipt.reply).toBe(STORED_REPLY);
  });

  it('analyze --json escapes C1 controls from a Received field', async () => {
    const file = path.join(rig.temp.dir, 'hostile.eml');
    const header = Buffer.concat([
      Buffer.from('Received: from evil'),
      Buffer.from([0x9b, 0x32, 0x4a, 0x9d, 0x30, 0x3b, 0x70, 0x77, 0x6e, 0x9c]), // CSI 2J, OSC 0;pwn ST
      Buffer.from('.example ([192.0.2.1]) by mx.example with ESMTPS; Thu, 3 Dec 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n'),
    ]);
    writeFileSync(file, header);
    const plain = await rig.gateway.cli('analyze', '--offline', file);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(HOSTILE_CHARS);
    const json = await rig.gateway.cli('analyze', '--offline', '--json', file);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).not.toMatch(HOSTILE_CHARS);
    expect(JSON.parse(json.stdout).hops[0].from).toBe('evil\u009b2J\u009d0;pwn\u009c.example');
  });
});
