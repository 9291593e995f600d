import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { freePort } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 8 item 4: backscatter. Inbound mail to any local part of our domains was accepted and
 * later bounced to a possibly forged sender. Now recipients are verified at RCPT time: by a
 * cached RCPT probe to the smarthost (callout, the default) or a per-domain list; an unknown
 * one gets 550 5.1.1 while the sender's server is still connected, so we never bounce it.
 */
describe('i8-04 recipient verification at RCPT (no backscatter)', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i8-04',
    // The mailbox server knows only alice@corp.test.
    recorder: {
      reply: (line, stage) => (stage === 'rcpt' && !/^RCPT TO:<alice@corp\.test>/i.test(line.toString('latin1')) ? '550 5.1.1 No such user' : undefined),
    },
    queue: null,
    domains: async (smarthost) => ({
      'corp.test': { smarthost },
      'list.test': { smarthost, recipients: ['Carol', 'dave@list.test'] },
      'down.test': { smarthost: `127.0.0.1:${await freePort()}` },
    }),
    config: { recipientVerification: { probeTimeoutMs: 2000 } },
  });

  const probes = () => rig.rx.commands().filter((c) => /^RCPT TO:/i.test(c.toString('latin1'))).map((c) => c.toString('latin1'));

  it('refuses an unknown local part with 550 5.1.1 after a probe, and remembers both answers', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO sender.example');
    expect(await client.command('MAIL FROM:<forged-victim@elsewhere.example>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<nobody@corp.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await client.command('RCPT TO:<alice@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<NOBODY@corp.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await client.command('RCPT TO:<alice@corp.test>')).toMatch(/^250/);
    client.close();
    // One probe per address (cached, case-insensitively), with the null sender, and no message.
    expect(probes()).toEqual(['RCPT TO:<nobody@corp.test>', 'RCPT TO:<alice@corp.test>']);
    expect(rig.rx.commands().filter((c) => /^MAIL FROM:/i.test(c.toString('latin1'))).map((c) => c.toString('latin1'))).toEqual(['MAIL FROM:<>', 'MAIL FROM:<>']);
    expect(rig.rx.transactions()).toEqual([]);
    // Nothing was queued, so nothing can bounce to the forged sender.
    expect((await rig.gateway.cli('queue', 'list', '--all')).stdout).not.toMatch(/from </);
  });

  it('checks a configured list without asking the smarthost; postmaster is always accepted', async () => {
    const before = probes().length;
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO sender.example');
    await client.command('MAIL FROM:<someone@elsewhere.example>');
    expect(await client.command('RCPT TO:<carol@list.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<Dave@LIST.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<postmaster@list.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<mallory@list.test>')).toMatch(/^550 5\.1\.1 /);
    client.close();
    expect(probes().length).toBe(before);
  });

  it('answers 450 4.1.1 when the smarthost cannot be asked, never accept-everything', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    await client.command('EHLO sender.example');
    await client.command('MAIL FROM:<someone@elsewhere.example>');
    expect(await client.command('RCPT TO:<anyone@down.test>')).toMatch(/^450 4\.1\.1 /);
    client.close();
  });
});
