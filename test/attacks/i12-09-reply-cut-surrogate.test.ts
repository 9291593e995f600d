import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 9: a receiving server makes a true receipt read as tampered with. The reply
 * is kept to 1000 UTF-16 code units, in the signed document and in the row alike, by
 * `slice(0, 1000)`. A reply (RFC 6531 lets it be UTF-8) with an emoji across that boundary is
 * cut inside its surrogate pair: the signed JSON holds the lone half as `\ud83d`, the row's
 * TEXT column gets U+FFFD when SQLite stores it as UTF-8, and `sealgate receipt` compares the
 * two and reports INVALID "reply differ": an honest delivery, as far as anyone can tell,
 * altered in the database. Now the cut never splits a character.
 */
const PASSWORD = 'correct horse battery staple';
// The last line: "250 2.0.0 " (10) + 989 x = 999 units, then the emoji's two units cross 1000.
const REPLY = `250 2.0.0 ${'x'.repeat(989)}\u{1F600} queued`;

describe('a server reply cut inside a surrogate pair', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'sg-i12-09-', users: ['alice@corp.test'], password: PASSWORD,
    recorder: { reply: (_line, stage) => (stage === 'dot' ? REPLY : undefined) },
  });

  it('still gives a receipt that verifies, with the reply cut before the emoji', async () => {
    const sent = await submitAs(() => rig.gateway.ports.submission, PASSWORD, 'alice@corp.test')('bob@corp.test', ['--header', 'Subject: long reply']);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    await until(async () => (await rig.gateway.cli('queue', 'show', id)).stdout.includes('delivered'), 20_000, 'the delivery');
    const shown = await rig.gateway.cli('receipt', id, '--json');
    const json = JSON.parse(shown.stdout);
    expect(json.receipts[0].reason).toBeUndefined();
    expect(json.receipts[0].status).toBe('valid');
    expect(shown.code).toBe(0);
    expect(json.receipts[0].receipt.reply).toBe(REPLY.slice(0, 999));
    expect((await rig.gateway.cli('trace', '--to', 'bob@corp.test')).code).toBe(0);
  });
});
