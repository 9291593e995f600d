import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Issue 10 item 2 (queue hold|release|delete --sender), attacker's pass. `--sender ""` is
 * what a script passes when its variable is empty (`queue delete --sender "$SPAMMER" --yes`),
 * and the selector took the empty string for the null sender: every bounce in the queue was
 * deleted, without a word about it. The null sender is spelled `<>` (as postqueue prints it);
 * an empty or blank --sender is a usage error (64) and selects nothing. Failed before the
 * change: exit 0 and the queued bounce was gone.
 */
const PASSWORD = 'correct horse battery staple';

describe('i10-02 an empty --sender selects nothing', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i10-02', users: ['alice@corp.test'], password: PASSWORD,
    // dr@ is refused for good (so a bounce is made); the bounce to alice@ is deferred and stays queued.
    recorder: { reply: (line, stage) => (stage === 'rcpt' ? (line.includes(Buffer.from('dr@')) ? '550 5.1.1 no such user' : '451 4.3.0 try again later') : undefined) },
  });

  const queued = async () => JSON.stringify(JSON.parse((await rig.gateway.cli('queue', 'list', '--json')).stdout));

  it('is a usage error, and the queued bounce stays', async () => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
    expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<dr@corp.test>')).toMatch(/^250/);
    expect(await sendData(client, Buffer.from('From: alice@corp.test\r\nTo: dr@corp.test\r\nSubject: results\r\nMessage-ID: <m1@corp.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nresults\r\n', 'latin1'))).toMatch(/^250/);
    client.close();
    // The bounce is queued for alice@corp.test (deferred by the smarthost).
    await until(async () => (await queued()).includes('alice@corp.test') && !(await queued()).includes('dr@corp.test'), 20_000, 'the bounce in the queue');
    const before = await queued();

    for (const sender of ['', ' ']) {
      const result = await rig.gateway.cli('queue', 'delete', '--sender', sender, '--yes');
      expect(result.code).toBe(64);
      expect(result.stderr).toMatch(/--sender/);
      expect(await queued()).toBe(before);
    }
    // The positive control: the null sender spelled as postqueue prints it does select the bounce.
    const deleted = await rig.gateway.cli('queue', 'delete', '--sender', '<>', '--yes');
    expect(deleted.code).toBe(0);
    expect(await queued()).not.toContain('alice@corp.test');
  }, 60_000);
});
