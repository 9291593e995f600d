import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../helpers/peers.ts';
import { until } from '../helpers/ports.ts';
import { startStripRig, type StripRig } from '../helpers/strip-rig.ts';
import { queuedId } from '../helpers/swaks.ts';

/*
 * Issue 14 (attack pass): the link memory skips writing an observation identical to one this
 * process stored under a minute ago. `sealgate domain forget` runs in ANOTHER process (the
 * CLI) and deletes the record; the gateway's skip list still said "stored", so the next
 * session that proved tls-verified again wrote nothing. The destination then had no memory
 * for up to a minute, and a STARTTLS stripper in that minute got the message in clear.
 */
describeWithPeers(['dnsmasq', 'swaks', 'openssl'], 'i14-30 a session after a CLI `domain forget` is remembered again', () => {
  let rig: StripRig;
  const record = async () => (await rig.gateway.cli('domain', 'show', 'forgot.test')).stdout;

  beforeAll(async () => {
    rig = await startStripRig({ name: 'i14-30', domain: 'forgot.test', mxIp: '127.0.0.174' });
  });

  afterAll(async () => {
    await rig?.stop();
  });

  it('the re-proved level is stored, and the stripper that follows is refused', { timeout: 90_000 }, async () => {
    const { gateway, honest, submit, show } = rig;
    const first = queuedId((await submit('hal@forgot.test', ['--header', 'Subject: first, over verified TLS'])).stdout);
    await honest.until(1, 15_000);
    await until(async () => /delivered/.test(await show(first)), 10_000, 'the first message settled');
    expect(await record()).toMatch(/mx\.forgot\.test \[127\.0\.0\.174\] {2}level tls-verified/);

    // The admin drops the record from the CLI, a process of its own, while the gateway runs.
    expect((await gateway.cli('domain', 'forget', 'forgot.test')).code).toBe(0);
    expect(await record()).not.toMatch(/level tls-verified/);

    // The MX proves tls-verified again on a new session (the pool keeps an idle one 5 s), with
    // the same observation as before, well within a minute of it.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const second = queuedId((await submit('hal@forgot.test', ['--header', 'Subject: second, over verified TLS'])).stdout);
    await honest.until(2, 15_000);
    await until(async () => /delivered/.test(await show(second)), 10_000, 'the second message settled');
    // The observation is written beside the delivery (not awaited by it): give it a moment.
    const remembered = await until(async () => /level tls-verified/.test(await record()), 5000, 'the re-proved level recorded').then(() => true, () => false);
    expect.soft(remembered, 'what the session after the forget proved is in the memory').toBe(true);

    // So the attacker who takes the address now is held to it.
    const { stripper, behind } = await rig.takeOver('127.0.0.175');
    const third = queuedId((await submit('hal@forgot.test', ['--header', 'Subject: third, must not go in clear'])).stdout);
    await until(async () => /451 4\.7\.5/.test(await show(third)) || behind.transactions().length > 0, 15_000, 'the stripped attempt refused (or a delivery)');
    expect(behind.transactions()).toHaveLength(0);
    expect(stripper.clientBytes()).not.toMatch(/MAIL FROM|must not go in clear/);
  });
});
