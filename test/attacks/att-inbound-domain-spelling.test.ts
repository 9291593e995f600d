import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { tempDir } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';

/*
 * A new hole next to att-domain-spelling: the inbound recipient check knows `bob@\uff4cocal.test`
 * (fullwidth l; IDNA maps it to local.test) as one of our mailboxes and accepts it, but routing
 * looked the domain up as written, found no smarthost and sent the stranger's message to the
 * domain's public MX instead (past the mailbox server, and under published-policy rules a
 * stranger's `TLS-Required: No` may waive). Routing uses the A-label domain too.
 */

describe('an inbound recipient in another spelling of our domain goes to its smarthost', () => {
  const temp = tempDir('att-inbound-spelling');
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    rx = await startRecordingSmtp({ extensions: ['SMTPUTF8', '8BITMIME'] });
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      domains: { 'local.test': { smarthost: `127.0.0.1:${rx.port}`, recipients: ['bob'] } },
      delivery: { dnsServers: ['127.0.0.1:1'], connectTimeoutMs: 1000 },
      queue: { retryScheduleMs: [500], pollIntervalMs: 100 },
    });
  });
  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    temp.cleanup();
  });

  it('bob@\uff4cocal.test reaches the local.test smarthost', async () => {
    const client = await RawSmtp.connect(gateway.ports.inbound);
    try {
      expect(await client.command('EHLO stranger.test')).toMatch(/^250/);
      expect(await client.command('MAIL FROM:<s@stranger.test> SMTPUTF8')).toMatch(/^250/);
      client.write(Buffer.from('RCPT TO:<bob@\uff4cocal.test>\r\n', 'utf8'));
      expect(await client.reply()).toMatch(/^250/);
      expect(await client.command('DATA')).toMatch(/^354/);
      client.write(Buffer.from('From: s@stranger.test\r\nTo: bob@local.test\r\nSubject: hello\r\nTLS-Required: No\r\n\r\nhello\r\n.\r\n'));
      expect(await client.reply()).toMatch(/^250/);
    } finally {
      client.close();
    }
    await rx.until(1, 8_000);
    expect(rx.transactions()[0].rcptTo[0].toString('utf8')).toContain('bob@');
  });
});
