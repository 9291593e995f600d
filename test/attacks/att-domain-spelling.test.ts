import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../helpers/peers.ts';
import { until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';
import { startStripProxy, type StripProxy } from '../helpers/strip-proxy.ts';
import { STRIP_RIG_PASSWORD, startStripRig, type StripRig } from '../helpers/strip-rig.ts';
import { queuedId } from '../helpers/swaks.ts';

/*
 * A new hole next to issue 8 items 16 and 18: one destination, several spellings. The address
 * check (with SMTPUTF8) accepts U-labels and fullwidth letters that IDNA maps to the same
 * A-labels (`hal@\uff48eld.test` is hal@held.test), and DNS answers for all of them alike; but the link-security
 * memory, the admin's per-domain TLS policy and the pins were keyed by the spelling as written.
 * Before the fix, a message to `hal@\uff48eld.test` went in plaintext through a STARTTLS stripper
 * although held.test had proved tls-verified, and `\uff53trict.test` escaped `tlsPolicies:
 * { strict.test: verified }`.
 */
const STRICT_IP = '127.0.0.173';

describeWithPeers(['dnsmasq', 'swaks', 'openssl'], 'att domain spelling: the memory and the admin policy hold whatever the spelling', () => {
  let rig: StripRig;
  let strict: RecordingSmtp;
  let strictFront: StripProxy | undefined;
  /** SMTPUTF8 submission of one message to one recipient, written as UTF-8 bytes; the queue id. */
  const submitUtf8 = async (to: string, subject: string): Promise<string> => {
    const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@sender.test', STRIP_RIG_PASSWORD);
    try {
      expect(await client.command('MAIL FROM:<alice@sender.test> SMTPUTF8')).toMatch(/^250/);
      client.write(Buffer.from(`RCPT TO:<${to}>\r\n`, 'utf8'));
      expect(await client.reply()).toMatch(/^250/);
      const reply = await sendData(client, Buffer.from(`From: alice@sender.test\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`, 'utf8'));
      return queuedId(reply);
    } finally {
      client.close();
    }
  };

  beforeAll(async () => {
    // strict.test offers no STARTTLS at all: only the admin's `verified` policy keeps mail off it.
    strict = await startRecordingSmtp({ host: STRICT_IP });
    rig = await startStripRig({
      name: 'att-spelling',
      domain: 'held.test',
      mxIp: '127.0.0.171',
      dns: { mx: [{ domain: 'strict.test', host: 'mx.strict.test', pref: 10 }], a: [{ name: 'mx.strict.test', ip: STRICT_IP }] },
      delivery: { tlsPolicies: { 'strict.test': 'verified' } },
    });
    // The plaintext-only strict.test MX on the delivery port (the proxy only forwards).
    strictFront = await startStripProxy({ ip: STRICT_IP, port: rig.honest.port, upstream: { host: strict.host, port: strict.port } });
  });

  afterAll(async () => {
    await rig?.stop();
    await strictFront?.stop();
    await strict?.stop();
  });

  it('holds hal@\uff48eld.test to what held.test proved: the stripped session is refused', async () => {
    const { gateway, show } = rig;
    await rig.submit('hal@held.test', ['--header', 'Subject: first, over verified TLS']);
    await rig.honest.until(1, 15_000);

    const { stripper, behind } = await rig.takeOver('127.0.0.172');

    const second = await submitUtf8('hal@\uff48eld.test', 'second, must not go in clear');
    expect(second).not.toBe('');
    const refusals = () => gateway.output().split('\n').filter((line) => line.includes('link-security downgrade refused')).length;
    await until(() => refusals() >= 1 || behind.transactions().length > 0, 15_000, 'the stripped attempt to be refused (or a delivery)');
    expect(await show(second)).not.toMatch(/delivered/);
    expect(stripper.clientBytes()).not.toMatch(/MAIL FROM|RCPT TO|DATA|must not go in clear/);
    expect(behind.transactions()).toHaveLength(0);
  });

  it("keeps \uff53trict.test under the admin's `verified` policy for strict.test", async () => {
    const { show } = rig;
    const id = await submitUtf8('sam@\uff53trict.test', 'only over verified TLS');
    expect(id).not.toBe('');
    await until(async () => /451 4\.7\.5|delivered/.test(await show(id)), 15_000, 'the attempt to be refused (or delivered)');
    expect(await show(id)).toMatch(/451 4\.7\.5 .*TLS policy 'verified'/s);
    expect(strict.transactions()).toHaveLength(0);
  });
});
