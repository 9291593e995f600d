import type { AuditEventInput } from '../audit/index.ts';
import type { LeasedGroup, Settlement } from '../queue/index.ts';

/*
 * The audit trail of each delivery attempt (issue 13: message delivered, deferred, bounced,
 * held for pickup): one event per recipient whose settlement was recorded, naming the queue
 * id, the recipient, the route and the link; never a subject or body. A copy delivered end to
 * end adds `message.encrypted` and, when the sender's key signed it, `message.signed` (kind and
 * recipient; never a key). They go through the same batcher: no extra chain write per message. The remote's reply is
 * kept short: it is evidence of what the server said, not a log.
 */

const REPLY_MAX = 300;

export function settlementEvents(group: LeasedGroup, settlements: Settlement[], stale: number[], node: string): AuditEventInput[] {
  const events: AuditEventInput[] = [];
  for (const s of settlements) {
    if (stale.includes(s.recipientId)) continue;
    const recipient = group.recipients.find((r) => r.id === s.recipientId)?.address;
    const receipt = s.receipt;
    const action = s.state === 'delivered' ? (receipt?.route === 'pickup' ? 'message.held-for-pickup' : 'message.delivered') : s.state === 'failed' ? 'message.bounced' : 'message.deferred';
    events.push({
      actor: `node:${node}`,
      action,
      target: group.messageId,
      protocol: 'smtp',
      detail: {
        recipient,
        reply: s.reply.slice(0, REPLY_MAX),
        ...(receipt?.route ? { route: receipt.route } : {}),
        ...(receipt?.mxHost ? { mx: receipt.mxHost, ip: receipt.ip, tls: receipt.tlsVersion, cipher: receipt.cipher, certVerified: receipt.certVerified } : {}),
      },
    });
    if (s.state === 'delivered' && receipt?.route?.startsWith('end-to-end:')) {
      const kind = receipt.route.slice('end-to-end:'.length);
      events.push({ actor: `node:${node}`, action: 'message.encrypted', target: group.messageId, protocol: 'smtp', detail: { recipient, kind } });
      if (receipt.signed) events.push({ actor: `node:${node}`, action: 'message.signed', target: group.messageId, protocol: 'smtp', detail: { recipient, kind, signer: group.envelope.mailFrom } });
    }
  }
  return events;
}
