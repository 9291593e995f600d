import { describe, expect, it } from 'vitest';
import type { MessageDetail } from '../queue/index.ts';
import { formatQueueList, formatQueueShow } from './format.ts';
import type { NoticeState } from './pickup-notices.ts';

const HELD = "250 2.0.0 Held for Secure Message Pickup AbCdEfGhIjKlMnOpQrStUv (451 4.7.5 No MX of plain.test met the link policy); notice queued as NoTiCeId123.";
const none = { mxHost: null, ip: null, port: null, tlsVersion: null, cipher: null, certSubject: null, certVerified: false };

const held: MessageDetail = {
  id: 'HeLdId',
  mailFrom: 'alice@sender.test',
  size: 10,
  createdAt: 0,
  envelope: { mailFrom: 'alice@sender.test', requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' },
  recipients: [{ id: 1, address: 'bob@plain.test', state: 'delivered', attempts: 1, nextAttemptAt: 0, lastReply: HELD }],
  receipts: [{ at: 0, recipient: 'bob@plain.test', ...none, reply: HELD, outcome: 'delivered' }],
};

describe('queue list/show of a recipient held for pickup (issue 10 item 15)', () => {
  it('says "held for pickup <id>" with its notice, never "delivered" with "mx - [-]:- no TLS"', () => {
    const notices = new Map<string, NoticeState>([['NoTiCeId123', { id: 'NoTiCeId123', state: 'delivered', attempts: 1, lastReply: '250 ok', last: { at: 0, recipient: 'bob@plain.test', ...none, mxHost: 'mx.plain.test', ip: '127.0.0.81', port: 25, reply: '250 ok', outcome: 'delivered' } }]]);
    const shown = formatQueueShow(held, notices);
    expect(shown).toContain('held for pickup AbCdEfGhIjKlMnOpQrStUv <bob@plain.test>');
    expect(shown).toMatch(/notice NoTiCeId123: delivered .* via mx\.plain\.test \[127\.0\.0\.81\]  no TLS  WARNING: below tls-verified/);
    expect(shown).not.toContain('mx - [-]:- no TLS');
    expect(shown).not.toMatch(/^\s+delivered /m);
    expect(formatQueueList([held], notices)).toContain('held for pickup AbCdEfGhIjKlMnOpQrStUv <bob@plain.test>');
  });

  it('shows a notice still queued, or failed, and the notice itself names its pickup', () => {
    const queued = new Map<string, NoticeState>([['NoTiCeId123', { id: 'NoTiCeId123', state: 'queued', attempts: 2, nextAttemptAt: 60_000, lastReply: '451 4.4.1 try later' }]]);
    expect(formatQueueShow(held, queued)).toMatch(/notice NoTiCeId123: queued, attempts 2, next 1970-01-01T00:01:00Z  last: 451 4\.4\.1 try later/);
    const failed = new Map<string, NoticeState>([['NoTiCeId123', { id: 'NoTiCeId123', state: 'failed', attempts: 1, lastReply: '550 5.7.1 no' }]]);
    expect(formatQueueShow(held, failed)).toMatch(/notice NoTiCeId123: FAILED: 550 5\.7\.1 no \(the sender got a report\)/);
    const notice: MessageDetail = { ...held, id: 'NoTiCeId123', mailFrom: '', envelope: { ...held.envelope, mailFrom: '', notice: { kind: 'pickup-notice', pickupId: 'AbCdEfGhIjKlMnOpQrStUv', heldMessageId: 'HeLdId', reportTo: 'alice@sender.test' } }, recipients: [], receipts: [] };
    expect(formatQueueShow(notice)).toContain('notice    for Secure Message Pickup AbCdEfGhIjKlMnOpQrStUv (held message HeLdId); a failure is reported to <alice@sender.test>');
  });
});
