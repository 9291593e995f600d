import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/index.ts';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { queuedId, submitAs } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 4: an exported receipt is a file a stranger hands on. `receipt verify` checked
 * the signature over `signed` and nothing else in the file, so three edits passed with exit 0:
 *   - the readable copy (`.receipts[0].document`, what anyone reads with jq) says "TLSv1.3" and
 *     a forged reply while `signed` still holds the true bytes;
 *   - the top-level `messageId` names another message than the receipts inside;
 *   - a receipt forged and signed with the attacker's own key, its key put in `publicKey`, the
 *     gateway's fingerprint left in `keyFingerprint` (the one a reader compares with the
 *     published key).
 * Now each is refused, exit 65, with a sentence naming what does not match.
 */
const PASSWORD = 'correct horse battery staple';

describe('an exported receipt file edited beside its signed bytes', () => {
  const rig = gatewayWithSmarthost({ prefix: 'sg-i12-04-', users: ['alice@corp.test'], password: PASSWORD });
  const file = (name: string) => path.join(rig.temp.dir, name);
  const verify = (name: string, ...args: string[]) => rig.gateway.cli('receipt', 'verify', file(name), ...args);

  it('is refused by receipt verify: an edited readable copy, another message ID, an own key under the gateway fingerprint', async () => {
    const sent = await submitAs(() => rig.gateway.ports.submission, PASSWORD, 'alice@corp.test')('bob@corp.test', ['--header', 'Subject: exported']);
    expect(sent.code, sent.stdout).toBe(0);
    const id = queuedId(sent.stdout);
    await until(async () => (await rig.gateway.cli('receipt', id)).code === 0, 20_000, 'a signed receipt');
    expect((await rig.gateway.cli('receipt', id, '--export', file('r.json'))).code).toBe(0);
    const key = await rig.gateway.cli('receipt', 'key');
    writeFileSync(file('key.pem'), key.stdout);
    const exported = JSON.parse(readFileSync(file('r.json'), 'utf8'));
    const write = (name: string, value: unknown) => writeFileSync(file(name), JSON.stringify(value, null, 2));

    // The control: untouched, it verifies with the published key and with the key in the file.
    expect((await verify('r.json', '--key', file('key.pem'))).code).toBe(0);
    expect((await verify('r.json')).code).toBe(0);

    // 1. The readable copy says TLS and another reply; the signed bytes are the true ones.
    const readable = { ...exported.receipts[0].document, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', reply: '250 2.0.0 Ok: queued as FORGED' };
    write('copy.json', { ...exported, receipts: [{ ...exported.receipts[0], document: readable }] });
    const copy = await verify('copy.json', '--key', file('key.pem'));
    expect(copy.code, copy.stdout).toBe(65);
    expect(copy.stdout).toContain('INVALID: the readable copy (document) in the file differs from the signed bytes');

    // 2. The file claims to be the receipt of another message.
    write('other.json', { ...exported, messageId: 'SOMEONE-ELSES-MESSAGE' });
    const other = await verify('other.json', '--key', file('key.pem'));
    expect(other.code, other.stdout).toBe(65);
    expect(other.stdout).toContain(`INVALID: the receipt is of message ${id}, the file says SOMEONE-ELSES-MESSAGE`);

    // 3. Key substitution: a forged receipt signed with the attacker's key, the gateway's fingerprint kept.
    const attacker = generateKeyPairSync('ed25519');
    const forged = canonicalJson(readable);
    const substituted = {
      ...exported,
      publicKey: attacker.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      receipts: [{ signed: Buffer.from(forged).toString('base64'), signature: sign(null, Buffer.from(forged), attacker.privateKey).toString('base64'), document: readable }],
    };
    write('substituted.json', substituted);
    const swapped = await verify('substituted.json');
    expect(swapped.code, swapped.stdout).toBe(65);
    expect(swapped.stderr).toContain("the file's keyFingerprint is not the SHA-256 of its publicKey");
    // With the published key it never held (the signature is the attacker's).
    expect((await verify('substituted.json', '--key', file('key.pem'))).code).toBe(65);
  });
});
