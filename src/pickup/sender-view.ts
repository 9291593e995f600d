import { openValue, sealValue, subkey } from './keys.ts';

/*
 * What the sender's console may show of a pickup it cannot read (issue 10 item 7): the subject
 * and the attachment names. They are sealed under a key derived from the message's server
 * share, which lives outside the database and is destroyed by retraction, expiry and deletion:
 * while the message lives the server can show them to its sender, afterwards no copy of the
 * data dir can (crypto-shredding, as the reply passwords in keys.ts `replyPasswordKey`).
 */

export interface SenderView {
  subject: string;
  attachments: string[];
}

const senderViewKey = (serverShare: Buffer, id: string) => subkey(serverShare, `sealgate pickup sender view v1 ${id}`);

export function sealSenderView(serverShare: Buffer, id: string, view: SenderView): Buffer {
  return sealValue(senderViewKey(serverShare, id), Buffer.from(JSON.stringify(view), 'utf8'), `${id}/sender-view`);
}

export function openSenderView(serverShare: Buffer, id: string, sealed: Buffer): SenderView {
  const parsed = JSON.parse(openValue(senderViewKey(serverShare, id), sealed, `${id}/sender-view`).toString('utf8')) as Partial<SenderView>;
  return { subject: String(parsed.subject ?? ''), attachments: Array.isArray(parsed.attachments) ? parsed.attachments.map(String) : [] };
}
