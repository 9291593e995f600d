import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type * as Mailparser from 'mailparser';
import type { AttachmentStream, MailParser, MessageText } from 'mailparser';
import type { PartInput } from './message-types.ts';

/*
 * An RFC 5322/MIME message turned into pickup parts as it streams in. mailparser hands each
 * attachment over as a stream and waits for `release()` before it reads on, so a large
 * attachment flows from the message into the sealed store without sitting whole in memory.
 * Text bodies are small by nature and mailparser collects them: it knows them only once the
 * message has ended, so the parts come attachments first (in message order), then the text
 * body, then the HTML body. Readers find parts by kind, not by place.
 */

export interface MimeParts {
  /** The decoded Subject ('' without one); settles once the header block is parsed. */
  subject: Promise<string>;
  /** Attachments as the parser reaches them, then the text body and the HTML body (raw). */
  parts: AsyncIterable<PartInput>;
}

/** The message cannot be turned into pickup parts: retrying will not help (a permanent failure). */
export class MimeConversionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MimeConversionError';
  }
}

/** The sealed store's limit on an HTML body (it is sanitised whole, in memory; part-streams.ts HTML_LIMIT). */
export const MAX_HTML_BYTES = 5 * 1024 * 1024;

export const TEXT_TYPE = 'text/plain; charset=utf-8';
export const HTML_TYPE = 'text/html; charset=utf-8';

/**
 * Parses `raw` (the whole message, headers included). Parsing starts at once so `subject`
 * settles before anyone reads `parts`; `parts` may be iterated once. A part's content must be
 * read to its end before the next part is asked for (PickupStore.create does so); leaving the
 * iteration early stops the parser and `raw`.
 */
const require = createRequire(import.meta.url);
let mailparser: typeof Mailparser | undefined;
/**
 * mailparser (with its own libmime, iconv tables and nodemailer's address parser, ~25 MB
 * resident) loads at the first message turned into a pickup, not with this folder: every
 * process imports pickup/, few convert. Sync because mimeToParts is; its CommonJS build.
 */
function parserModule(): typeof Mailparser {
  return (mailparser ??= require('mailparser') as typeof Mailparser);
}

export function mimeToParts(raw: Readable): MimeParts {
  // No derived bodies: HTML stays out of the text part and text out of the HTML part, so the
  // recipient sees what the sender wrote, and an HTML-only message has no text part.
  const parser = new (parserModule().MailParser)({ skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, checksumAlgo: false });
  // An error of the body stream itself (storage, decryption) is not the message's fault and
  // passes as is; one of the parser's is, and says so.
  const failed: { raw?: Error } = {};
  const subject = new Promise<string>((resolve, reject) => {
    parser.once('headers', (headers) => {
      const value = headers.get('subject');
      resolve(typeof value === 'string' ? value : '');
    });
    parser.once('error', (error: Error) => reject(error === failed.raw ? error : new MimeConversionError(`the message's MIME structure cannot be read: ${error.message}`, { cause: error })));
    parser.once('close', () => reject(new MimeConversionError('the message ended before its header block was complete')));
  });
  // The caller may not wait on `subject` at all; a parse error then surfaces through `parts`.
  subject.catch(() => undefined);
  raw.once('error', (error) => {
    failed.raw = error;
    parser.destroy(error);
  });
  raw.pipe(parser);
  return { subject, parts: partsOf(raw, parser, failed) };
}

async function* partsOf(raw: Readable, parser: MailParser, failed: { raw?: Error }): AsyncGenerator<PartInput> {
  try {
    yield* partsOfParsed(raw, parser);
  } catch (error) {
    if (error === failed.raw || error instanceof MimeConversionError) throw error;
    throw new MimeConversionError(`the message's MIME structure cannot be read: ${(error as Error).message}`, { cause: error });
  }
}

async function* partsOfParsed(raw: Readable, parser: MailParser): AsyncGenerator<PartInput> {
  let attachments = 0;
  let body: MessageText | undefined;
  let done = false;
  try {
    for await (const data of parser as AsyncIterable<AttachmentStream | MessageText>) {
      if (data.type === 'text') {
        body = data;
        continue;
      }
      attachments++;
      yield { kind: 'attachment', contentType: data.contentType, filename: safeFilename(data.filename, attachments), content: data.content };
      // Asked for the next part: the consumer has read this one. Releasing also drains whatever
      // it left unread, so the parser never stalls on it.
      data.release?.();
    }
    done = true;
  } finally {
    if (!done) {
      parser.destroy();
      raw.unpipe(parser);
      raw.destroy();
    }
  }
  if (body?.text) yield { kind: 'text', contentType: TEXT_TYPE, content: body.text };
  if (body?.html) {
    // Checked here, where it is the message's fault (permanent), not only when sealing.
    if (Buffer.byteLength(body.html, 'utf8') > MAX_HTML_BYTES) throw new MimeConversionError(`the HTML body is larger than ${MAX_HTML_BYTES / 1024 / 1024} MB; send it as an attachment`);
    yield { kind: 'html', contentType: HTML_TYPE, content: body.html };
  }
}

const MAX_FILENAME = 200;

/**
 * A name fit to offer for download: no directories, no control or direction-override
 * characters (which can make `exe.pdf` read as `fdp.exe`), not only dots; else `attachment-N`.
 */
export function safeFilename(name: string | undefined, index: number): string {
  const cleaned = (name ?? '')
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .replace(/[/\\]+/g, '_')
    .replace(/\s+/g, ' ')
    .trim();
  if (!cleaned || /^\.+$/.test(cleaned)) return `attachment-${index}`;
  if (cleaned.length <= MAX_FILENAME) return cleaned;
  // Keep a short extension so the download still opens with the right program.
  const dot = cleaned.lastIndexOf('.');
  const ext = dot > 0 && cleaned.length - dot <= 16 ? cleaned.slice(dot) : '';
  return Array.from(cleaned).slice(0, MAX_FILENAME - ext.length).join('') + ext;
}

/** One copy of the tag rule, with the other control-header edits (mail/controls.ts). */
export { stripSubjectTag } from '../mail/index.ts';
