import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { until } from '../helpers/ports.ts';
import { RawSmtp } from '../helpers/raw-smtp.ts';

/*
 * Issue 13 "Audit log", attacker's pass: whoever runs a destination's MX writes the reply
 * text that `message.deferred` / `bounced` keep as evidence (and receipts and bounces carry).
 * The SMTP client already replaced C0 and C1 controls in it; bidi controls (U+202E and the
 * isolates) went through into the record. `audit list` held (its output is made safe for a
 * terminal), but `audit export` and the admin console's CSV and JSON put them into a
 * spreadsheet cell or a viewer, reordering what follows (here: the reply reads as
 * "250 2.0.0 delivered" while the message was deferred). Now the client replaces them where
 * it replaces the other controls, so no receipt, bounce or audit event carries them.
 */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const REPLY = '451 4.3.0 \u202edereviled 0.0.2 052\u202c \u2067later\u2069';

describe('i13-13 bidi controls in a remote reply', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'i13-13', cli: 'in-process',
    recorder: { reply: (_line, stage) => (stage === 'dot' ? REPLY : undefined) },
  });

  it('reach neither the audit trail nor its exports', async () => {
    const client = await RawSmtp.connect(rig.gateway.ports.inbound);
    expect(await client.command('EHLO sender.test')).toMatch(/^250/);
    expect(await client.command('MAIL FROM:<someone@sender.test>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<box@corp.test>')).toMatch(/^250/);
    expect(await client.command('DATA')).toMatch(/^354/);
    expect(await client.command('Subject: hi\r\n\r\nbody\r\n.')).toMatch(/^250/);
    client.close();
    let listed = '';
    await until(async () => (listed = (await rig.gateway.cli('audit', 'list', '--action', 'message.deferred')).stdout).includes('message.deferred'), 30_000, 'the deferral in the audit trail');
    expect(listed).toContain('dereviled'); // the reply is there, as text
    expect(listed).not.toMatch(BIDI);
    expect((await rig.gateway.cli('audit', 'export', '--format', 'csv')).stdout).not.toMatch(BIDI);
    expect((await rig.gateway.cli('audit', 'list', '--json')).stdout).not.toMatch(BIDI);
  }, 90_000);
});
