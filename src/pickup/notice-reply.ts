import { composeMail, escapeHtml, htmlDocument, wrap, type MailHead } from './mail-mime.ts';
import { brandedHead, footOf, textsOf, type MailBrand } from './notice.ts';

/*
 * The answer to a mail sent to the notice address: it says nobody reads the address and how
 * to answer securely (RFC 3834 auto-reply: `Auto-Submitted: auto-replied`, In-Reply-To and
 * References to the original). It repeats nothing of the mail it answers, not even the
 * subject: whoever forged the envelope sender cannot use us to carry words to a third party,
 * and a reply that quoted the notice (link and message password) is not sent on again.
 */

export interface NoticeReplyAnswerInput extends MailHead, MailBrand {
  /** The Message-ID of the mail being answered, when it had a well-formed one. */
  inReplyTo?: string;
  hostname: string;
}

const MESSAGE_ID = /^<[^\s<>@]{1,128}@[^\s<>@]{1,128}>$/;

export function buildNoticeReplyAnswer(input: NoticeReplyAnswerInput): Buffer {
  const texts = textsOf(input);
  const foot = footOf(input, input.hostname);
  const paragraphs = [texts.replyNotRead, texts.replyHowTo, texts.replyOther];
  const text = [...paragraphs.flatMap((p) => [wrap(p), '']), ...foot.text].join('\n');
  const html = htmlDocument(texts.replySubject, [...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`), ...foot.html], input.locale ?? 'en');
  const original = input.inReplyTo && MESSAGE_ID.test(input.inReplyTo) ? input.inReplyTo : undefined;
  return composeMail(brandedHead(input), texts.replySubject, text, html, {
    autoSubmitted: 'auto-replied',
    extra: original ? [['In-Reply-To', original], ['References', original]] : [],
  });
}
