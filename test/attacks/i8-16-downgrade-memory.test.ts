import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../helpers/peers.ts';
import { until } from '../helpers/ports.ts';
import { startStripRig, type StripRig } from '../helpers/strip-rig.ts';
import { queuedId } from '../helpers/swaks.ts';

/*
 * Issue 8 item 16: the link-security memory must refuse a downgrade. held.test publishes no
 * policy (no DANE, no MTA-STS), so only the memory protects it. The first message goes over
 * TLS with a certificate valid for mx.held.test (level tls-verified). Then a STARTTLS stripper
 * takes the MX address. Before the fix the second message went in plaintext through the
 * stripper and the record fell to `none`.
 */
describeWithPeers(['dnsmasq', 'swaks', 'openssl'], 'i8-16 STARTTLS stripping after a domain proved tls-verified', () => {
  let rig: StripRig;

  beforeAll(async () => {
    rig = await startStripRig({ name: 'i8-16', domain: 'held.test', mxIp: '127.0.0.161' });
  });

  afterAll(async () => {
    await rig?.stop();
  });

  it('holds the domain to tls-verified: the stripped session is refused, deferred, and the record stays', async () => {
    // What the first session proved is checked at the end: only it could have earned tls-verified.
    const { gateway, submit, show } = rig;
    await submit('hal@held.test', ['--header', 'Subject: first, over verified TLS']);
    await rig.honest.until(1, 15_000);

    // The attacker takes the MX address: a stripper relaying to a receiver behind it.
    const { stripper, behind } = await rig.takeOver('127.0.0.162');

    const second = queuedId((await submit('hal@held.test', ['--header', 'Subject: second, must not go in clear'])).stdout);
    const refusals = () => gateway.output().split('\n').filter((line) => line.includes('link-security downgrade refused')).length;
    await until(() => refusals() >= 2 || behind.transactions().length > 0, 15_000, 'the stripped attempt and its retry to be refused (or a delivery)');
    const [text, record] = await Promise.all([show(second), gateway.cli('domain', 'show', 'held.test')]);
    expect(text).not.toMatch(/delivered/);
    expect(text).toMatch(/451 4\.7\.5 .*reached link level 'none', but what mx\.held\.test proved before \(link-security memory/s);
    // The stripper saw the greeting exchange only: no envelope, no DATA, not a byte of the message.
    expect(stripper.clientBytes()).not.toMatch(/MAIL FROM|RCPT TO|DATA|must not go in clear/);
    expect(behind.transactions()).toHaveLength(0);
    // The weaker session did not lower what was proved, and the refusal raised an alert.
    expect(record.stdout).toMatch(/mx\.held\.test \[127\.0\.0\.161\] {2}level tls-verified\n\s+TLSv1\.3 .*certificate valid/);
    expect(gateway.output()).toMatch(/"alert":true[^\n]*downgrade refused/);
  });
});
