import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { freePort, tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';

/*
 * Issue 8 item 4: backscatter. Inbound mail to any local part of our domains was accepted and
 * later bounced to a possibly forged sender. Now recipients are verified at RCPT time: by a
 * cached RCPT probe to the smarthost (callout, the default) or a per-domain list; an unknown
 * one gets 550 5.1.1 while the sender's server is still connected, so we never bounce it.
 */
describe('i8-04 recipient verification at RCPT (no backscatter)', () => {
  const temp = tempDir('i8-04');
  let box: RecordingSmtp;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    // The mailbox server knows only alice@corp.test.
    box = await startRecordingSmtp({
      reply: (line, stage) => (stage === 'rcpt' && !/^RCPT TO:<alice@corp\.test>/i.test(line.toString('latin1')) ? '550 5.1.1 No such user' : undefined),
    });
    const closed = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: {
        'corp.test': { smarthost: `127.0.0.1:${box.port}` },
        'list.test': { smarthost: `127.0.0.1:${box.port}`, recipients: ['Carol', 'dave@list.test'] },
        'down.test': { smarthost: `127.0.0.1:${closed}` },
      },
      recipientVerification: { probeTimeoutMs: 2000 },
      web: { enabled: false },
    });
  }, 90_000);

  afterAll(async () => {
    await gateway?.kill();
    await box?.stop();
    temp.cleanup();
  });

  const probes = () => box.commands().filter((c) => /^RCPT TO:/i.test(c.toString('latin1'))).map((c) => c.toString('latin1'));

  it('refuses an unknown local part with 550 5.1.1 after a probe, and remembers both answers', async () => {
    const client = await RawSmtp.connect(gateway.ports.inbound);
    await client.command('EHLO sender.example');
    expect(await client.command('MAIL FROM:<forged-victim@elsewhere.example>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<nobody@corp.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await client.command('RCPT TO:<alice@corp.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<NOBODY@corp.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await client.command('RCPT TO:<alice@corp.test>')).toMatch(/^250/);
    client.close();
    // One probe per address (cached, case-insensitively), with the null sender, and no message.
    expect(probes()).toEqual(['RCPT TO:<nobody@corp.test>', 'RCPT TO:<alice@corp.test>']);
    expect(box.commands().filter((c) => /^MAIL FROM:/i.test(c.toString('latin1'))).map((c) => c.toString('latin1'))).toEqual(['MAIL FROM:<>', 'MAIL FROM:<>']);
    expect(box.transactions()).toEqual([]);
    // Nothing was queued, so nothing can bounce to the forged sender.
    expect((await gateway.cli('queue', 'list', '--all')).stdout).not.toMatch(/from </);
  });

  it('checks a configured list without asking the smarthost; postmaster is always accepted', async () => {
    const before = probes().length;
    const client = await RawSmtp.connect(gateway.ports.inbound);
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
    const client = await RawSmtp.connect(gateway.ports.inbound);
    await client.command('EHLO sender.example');
    await client.command('MAIL FROM:<someone@elsewhere.example>');
    expect(await client.command('RCPT TO:<anyone@down.test>')).toMatch(/^450 4\.1\.1 /);
    client.close();
  });
});
