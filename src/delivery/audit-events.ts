import type { AuditEventInput } from '../audit/index.ts';
import type { LeasedGroup, Settlement } from '../queue/index.ts';

/*
 * The audit trail of each delivery attempt (issue 13: message delivered, deferred, bounced,
 * held for pickup): one event per recipient whose settlement was recorded, naming the queue
 * id, the recipient, the route and the link; never a subject or body. The remote's reply is
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
  }
  return events;
}
