import { editHeaderBlock } from '../../mail/index.ts';
import type { Logger } from '../../kernel/index.ts';

/*
 * Inbound (strangers on the MX listener): a message must not arrive carrying what only we
 * may say. Removed before the message is stored, so no copy on any route has them:
 * - every `Sealgate-*` control header: controls act only on mail our users submitted; and
 *   `Sealgate-E2E-Result`, our verdict on inbound end-to-end protection (e2e-inbound.ts adds
 *   the one true field later, and runs this again on headers that come out of decryption);
 * - every `Authentication-Results` field with our authserv-id (RFC 8601 §5: a receiver
 *   removes, before verification, fields claiming to be from its own authserv-id; otherwise a
 *   forged "dkim=pass" would look like our verdict to the mailbox server behind us).
 *
 * `Received:` lines that name our host are kept, by choice: RFC 5321 §4.4 forbids changing
 * trace fields already in a message, and they are what our loop detection counts (a message
 * that really loops through us must keep growing them). A forged one only adds a trace line;
 * readers take the trace as trustworthy only from the top down to the first foreign hop, and
 * our own line stays on top.
 */
export function inboundHeaderRewriter(authservId: string, logger: Logger): (block: Buffer) => Buffer {
  return (block) => {
    const { block: edited, removed } = editHeaderBlock(block.toString('latin1'), { dropControls: true, ourAuthservId: authservId });
    if (removed.length === 0) return block;
    logger.info({ removed }, 'removed forged internal headers from inbound mail');
    return Buffer.from(edited, 'latin1');
  };
}
