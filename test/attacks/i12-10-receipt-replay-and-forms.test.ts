import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 10 (tried, held; pinned here because nothing else tests it end to end):
 *   - replay: message B's receipt row replaced by message A's, every column and the proof
 *     copied, only message_id kept as B: `receipt B` says INVALID (the signed ID is A's);
 *   - the same signed document in other JSON spellings (a duplicate key, a \u escape, 25.0 for
 *     a number, trailing whitespace or data) and a malleated signature (S + L, RFC 8032 §5.1.7
 *     says reject) under the true signature or bytes: `receipt verify` refuses each, because
 *     it checks the exact bytes and then that they are the canonical form.
 */
const PASSWORD = 'correct horse battery staple';
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

describe('receipt replay and other spellings of a signed receipt', () => {
  const rig = gatewayWithSmarthost({ prefix: 'sg-i12-10-', users: ['alice@corp.test'], password: PASSWORD });
  const file = (name: string) => path.join(rig.temp.dir, name);
  const send = submitAs(() => rig.gateway.ports.submission, PASSWORD, 'alice@corp.test');

  it('are refused', async () => {
    const a = queuedId((await send('bob@corp.test', ['--header', 'Subject: a'])).stdout);
    const b = queuedId((await send('carol@corp.test', ['--header', 'Subject: b'])).stdout);
    for (const id of [a, b]) await until(async () => (await rig.gateway.cli('receipt', id)).code === 0, 20_000, `receipt of ${id}`);

    const db = new Database(path.join(rig.gateway.dir, 'data', 'sealgate.db'));
    try {
      const rowA = db.prepare("SELECT * FROM receipts WHERE message_id = ? AND outcome = 'delivered'").get(a) as Record<string, unknown>;
      const columns = Object.keys(rowA).filter((c) => c !== 'id' && c !== 'message_id');
      db.prepare(`UPDATE receipts SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE message_id = @target AND outcome = 'delivered'`).run({ ...Object.fromEntries(columns.map((c) => [c, rowA[c]])), target: b });
    } finally {
      db.close();
    }
    const replayed = await rig.gateway.cli('receipt', b);
    expect(replayed.code).toBe(65);
    expect(replayed.stdout).toMatch(/INVALID: the stored row was changed after signing: message ID/);

    expect((await rig.gateway.cli('receipt', a, '--export', file('a.json'))).code).toBe(0);
    writeFileSync(file('key.pem'), (await rig.gateway.cli('receipt', 'key')).stdout);
    const exported = JSON.parse(readFileSync(file('a.json'), 'utf8'));
    const { signed, signature } = exported.receipts[0] as { signed: string; signature: string };
    const text = Buffer.from(signed, 'base64').toString('utf8');
    const variants: Record<string, string> = {
      'duplicate key': text.replace('{', '{"kind":"failed",'),
      'unicode escape': text.replace('"delivered"', '"\\u0064elivered"'),
      'number form': text.replace(/"port":(\d+)/, '"port":$1.0'),
      'trailing newline': `${text}\n`,
      'trailing data': `${text}{"kind":"failed"}`,
    };
    const sig = Buffer.from(signature, 'base64');
    const s = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`) + L;
    const malleated = Buffer.concat([sig.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse()]).toString('base64');
    const cases: [string, { signed: string; signature: string }][] = [
      ...Object.entries(variants).map(([name, bytes]): [string, { signed: string; signature: string }] => [name, { signed: Buffer.from(bytes).toString('base64'), signature }]),
      ['signature S + L', { signed, signature: malleated }],
    ];
    for (const [name, receipt] of cases) expect(Buffer.from(receipt.signed, 'base64').toString('utf8') !== text || receipt.signature !== signature, name).toBe(true);
    // One file, one receipt per spelling (no readable copy: the signature alone is what is tried).
    writeFileSync(file('v.json'), JSON.stringify({ ...exported, receipts: cases.map(([, receipt]) => receipt) }));
    const checked = await rig.gateway.cli('receipt', 'verify', file('v.json'), '--key', file('key.pem'));
    expect(checked.code).toBe(65);
    cases.forEach(([name], i) => expect(checked.stdout, name).toMatch(new RegExp(`receipt ${i + 1} of ${cases.length}: INVALID: the signature does not match the signed bytes`)));
    // The control: the untouched export verifies.
    expect((await rig.gateway.cli('receipt', 'verify', file('a.json'), '--key', file('key.pem'))).code).toBe(0);
  });
});
