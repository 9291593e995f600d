import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRoutableRecipient, parseAddress, stripHiddenCharacters } from '../mail/index.ts';
import { answerRefusal, buildPickupNotice, type PartInput, type Verification } from '../pickup/index.ts';
import { DecryptStream, EncryptStream } from '../vault/index.ts';
import type { WebContext } from './context.ts';
import { redirect } from './context.ts';
import { MESSAGE_ID, type ConsoleHelpers } from './console-shared.ts';
import { html } from './html.ts';
import { i18n, translator, type Translator } from './i18n/index.ts';
import { csrfField, formatSize, notice, shown } from './layout.ts';
import { noticeLinks, weakLinkText, type NoticeLink } from './link-warning.ts';
import { CSRF_FAILED, HttpError, csrfMatches, ctx, sendPage } from './security.ts';
import { uploadName } from './streams.ts';

/*
 * Web compose: a signed-in sender writes a secure message in the console. Uploads are spooled
 * to the data dir encrypted under a key that lives only in this request, because every
 * recipient gets a pickup of their own and the upload can be read only once; the spool is
 * deleted before the response goes out. The pickups of one compose share a composition id
 * (one row in the console). With `reply=<reply id>` it answers a recipient's secure reply: a
 * new pickup to that recipient in the same thread. Before anything is sealed, the sender is
 * told when a notice would cross a link below tls-verified (link-warning.ts) and offered a
 * passphrase instead.
 */

const DAY_MS = 86_400_000;
const MAX_RECIPIENTS = 50;
const MAX_SUBJECT = 500;
const MAX_SECRET = 200;
const SPOOL_STALE_MS = DAY_MS;
// The notice builder takes only plain local@domain addresses.
const PLAIN_ADDRESS = /^[^\s<>"]+@[^\s<>@]+$/;
const MIME_TYPE = /^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*$/;
const VERIFICATIONS: Verification[] = ['link', 'code', 'passphrase', 'question'];
const ENGLISH = translator();

/** What the form shows again after an error: everything typed except the secrets. */
interface ComposeValues {
  recipients: string;
  subject: string;
  text: string;
  verification: string;
  question: string;
  days: string;
  readNotice: boolean;
  /** The secure reply this message answers (thread mode), when there is one. */
  reply: string;
  /** The sender saw the weak-link warning and sends with link or code anyway. */
  weakLinkOk: boolean;
}

/** What a reply in a thread is bound to, read from the reply id on the server, never from the form. */
interface ThreadTarget {
  replyId: string;
  recipient: string;
  thread: string;
  subject: string;
}

interface ComposeInput {
  recipients: string[];
  subject: string;
  text: string;
  verification: Verification;
  secret?: string;
  question?: string;
  days: number;
  readNotice: boolean;
}

interface SpooledFile {
  file: string;
  filename: string;
  contentType: string;
  size: number;
}

/** A form error: its sentence in the page's language (`say`); `message` holds the English one, for logs and tests. */
class ComposeError extends Error {
  readonly status: number;
  readonly say: (tr: Translator) => string;
  /** Set when the form comes back to ask about notices over weak links. */
  readonly weak: NoticeLink[];
  constructor(status: number, say: (tr: Translator) => string, weak: NoticeLink[] = []) {
    super(say(ENGLISH));
    this.status = status;
    this.say = say;
    this.weak = weak;
  }
}

/** Splits on commas, semicolons and white space; each must be a routable plain address. */
export function parseRecipients(field: string): string[] {
  const seen = new Map<string, string>();
  for (const word of field.split(/[\s,;]+/).filter(Boolean)) {
    const parsed = parseAddress(word);
    if (!parsed || !isRoutableRecipient(word) || !PLAIN_ADDRESS.test(word)) {
      throw new ComposeError(400, (tr) => tr.text('console.compose.error.notAddress', { word: word.slice(0, 100) }));
    }
    const address = `${parsed.local}@${parsed.domain}`;
    seen.set(address.toLowerCase(), address);
  }
  if (seen.size === 0) throw new ComposeError(400, (tr) => tr.text('console.compose.error.noRecipient'));
  if (seen.size > MAX_RECIPIENTS) throw new ComposeError(400, (tr) => tr.text('console.compose.error.tooManyRecipients', { max: MAX_RECIPIENTS }));
  return [...seen.values()];
}

function validate(fields: Record<string, string>, truncated: Set<string>, maxDays: number, target: ThreadTarget | undefined): ComposeInput {
  const recipients = target ? [target.recipient] : parseRecipients(fields.recipients ?? '');
  const subject = stripHiddenCharacters((fields.subject ?? '').replace(/[\r\n]+/g, ' ')).trim();
  if (subject.length > MAX_SUBJECT || truncated.has('subject')) throw new ComposeError(400, (tr) => tr.text('console.compose.error.subjectLength', { max: MAX_SUBJECT }));
  if (truncated.has('text')) throw new ComposeError(400, (tr) => tr.text('console.compose.error.textLength'));
  const text = (fields.text ?? '').replace(/\r\n/g, '\n');
  const verification = VERIFICATIONS.find((v) => v === fields.verification);
  if (!verification) throw new ComposeError(400, (tr) => tr.text('console.compose.error.verification'));
  const days = Number(fields.days);
  if (!Number.isInteger(days) || days < 1 || days > maxDays) throw new ComposeError(400, (tr) => tr.text('console.compose.error.days', { max: maxDays }));
  const input: ComposeInput = { recipients, subject, text, verification, days, readNotice: fields.readNotice === 'on' };
  if (verification === 'passphrase') {
    input.secret = fields.passphrase ?? '';
    if (!input.secret.trim()) throw new ComposeError(400, (tr) => tr.text('console.compose.error.passphrase'));
  }
  if (verification === 'question') {
    input.question = (fields.question ?? '').trim();
    input.secret = fields.answer ?? '';
    if (!input.question) throw new ComposeError(400, (tr) => tr.text('console.compose.error.question'));
    if (!input.secret.trim()) throw new ComposeError(400, (tr) => tr.text('console.compose.error.answer'));
    if (answerRefusal(input.secret)) throw new ComposeError(400, (tr) => tr.text('console.compose.error.answerEmpty'));
    if (input.question.length > MAX_SECRET) throw new ComposeError(400, (tr) => tr.text('console.compose.error.questionLength', { max: MAX_SECRET }));
  }
  if (input.secret !== undefined && input.secret.length > MAX_SECRET) throw new ComposeError(400, (tr) => tr.text('console.compose.error.secretLength', { max: MAX_SECRET }));
  return input;
}

/** Hides the secret fields that do not belong to the chosen verification (all show without script). */
const COMPOSE_SCRIPT = `(function () {
  var form = document.getElementById('compose-form');
  if (!form) return;
  function show() {
    var chosen = form.querySelector('input[name=verification]:checked');
    form.querySelectorAll('[data-for]').forEach(function (el) { el.hidden = !chosen || el.getAttribute('data-for') !== chosen.value; });
  }
  form.addEventListener('change', show);
  show();
})();`;

export function registerCompose(app: FastifyInstance, c: WebContext, helpers: ConsoleHelpers): void {
  const maxBytes = c.config.limits.maxMessageBytes;
  const maxSize = formatSize(maxBytes);
  const maxDays = Math.max(365, c.config.pickup.expiresInDays);
  const spoolRoot = path.join(c.config.dataDir, 'compose-spool');

  function composePage(request: FastifyRequest, user: string, values: ComposeValues, options: { error?: string; weak?: NoticeLink[]; target?: ThreadTarget } = {}): string {
    const { csrf } = ctx(request);
    const tr = i18n(request);
    const { target, weak = [] } = options;
    const checked = (value: string) => (values.verification === value ? html` checked` : html``);
    const title = target ? tr.text('console.compose.replyTitle', { recipient: shown(target.recipient) }) : tr.text('console.compose.title');
    // Fields first and the files last: the server reads them in this order and streams the files.
    const body = html`<h1>${title}</h1>
${notice('error', options.error)}
${weak.length ? html`<section class="notice error" role="alert" id="weak-link"><p>${tr.t(values.verification === 'code' ? 'console.compose.weakIntroCode' : 'console.compose.weakIntro')}</p>
<ul>${weak.map((l) => html`<li>${weakLinkText(tr, l)}</li>`)}</ul>
<p>${tr.t('console.compose.weakOffer')}</p></section>` : ''}
<form method="post" action="/console/compose" enctype="multipart/form-data" class="card" id="compose-form">${csrfField(csrf)}
${target ? html`<input type="hidden" name="reply" value="${target.replyId}"><p id="reply-to">${tr.t('console.compose.replyTo', { recipient: shown(target.recipient), subject: shown(target.subject) || tr.text('console.noSubject') })}</p>` : html`<label for="recipients">${tr.t('console.compose.to')}</label>
<input type="text" id="recipients" name="recipients" value="${values.recipients}" autocomplete="off" autocapitalize="none" spellcheck="false" required aria-describedby="recipients-hint">
<p class="meta" id="recipients-hint">${tr.t('console.compose.toHint')}</p>`}
<label for="subject">${tr.t('console.compose.subject')}</label>
<input type="text" id="subject" name="subject" value="${values.subject}" maxlength="${MAX_SUBJECT}" aria-describedby="subject-hint">
<p class="meta" id="subject-hint">${tr.t('console.compose.subjectHint')}</p>
<label for="text">${tr.t('console.compose.text')}</label>
<textarea id="text" name="text">${values.text}</textarea>
<fieldset><legend>${tr.t('console.compose.verification')}</legend>
${VERIFICATIONS.map((v) => html`<label class="choice"><input type="radio" name="verification" value="${v}"${checked(v)}> ${tr.t(`console.compose.verification.${v}`)}</label>`)}
<div data-for="passphrase"><label for="passphrase">${tr.t('console.compose.passphrase')}</label><input type="password" id="passphrase" name="passphrase" autocomplete="new-password" maxlength="${MAX_SECRET}" aria-describedby="passphrase-hint">
<p class="meta" id="passphrase-hint">${tr.t('console.compose.passphraseHint')}</p></div>
<div data-for="question"><label for="question">${tr.t('console.compose.question')}</label><input type="text" id="question" name="question" value="${values.question}" maxlength="${MAX_SECRET}">
<label for="answer">${tr.t('console.compose.answer')}</label><input type="text" id="answer" name="answer" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="${MAX_SECRET}" aria-describedby="answer-hint">
<p class="meta" id="answer-hint">${tr.t('console.compose.answerHint')}</p></div>
</fieldset>
${weak.length ? html`<label class="choice"><input type="checkbox" name="weakLinkOk" id="weak-link-ok"${values.weakLinkOk ? html` checked` : html``}> ${tr.t('console.compose.weakOk')}</label>` : ''}
<label for="days">${tr.t('console.compose.days')}</label>
<input type="number" id="days" name="days" min="1" max="${maxDays}" value="${values.days}" required>
<label class="choice"><input type="checkbox" name="readNotice"${values.readNotice ? html` checked` : html``}> ${tr.t('console.compose.readNotice')}</label>
<label for="files">${tr.t('console.compose.files')}</label>
<input type="file" id="files" name="files" multiple aria-describedby="files-hint">
<p class="meta" id="files-hint">${tr.t('console.compose.filesHint', { size: maxSize })}</p>
<button type="submit" id="send">${tr.t('console.compose.send')}</button>
</form>
<p><a href="/console">${tr.t('console.compose.back')}</a></p>`;
    return helpers.consolePage(request, user, title, body, COMPOSE_SCRIPT);
  }

  const blank = (): ComposeValues => ({
    recipients: '', subject: '', text: '', verification: c.config.pickup.defaultVerification, question: '',
    days: String(Math.min(c.config.pickup.expiresInDays, maxDays)), readNotice: c.config.pickup.readNotice, reply: '', weakLinkOk: false,
  });

  /** The thread a reply id continues, if it answers one of `user`'s messages; a 404 otherwise. */
  async function threadTarget(request: FastifyRequest, user: string, replyId: string): Promise<ThreadTarget> {
    const original = MESSAGE_ID.test(replyId) ? await c.pickup.replies.originalOf(replyId) : undefined;
    const message = original ? await c.pickup.sent.message(user, original) : undefined;
    if (!message) throw new HttpError(404, i18n(request).text('console.error.noReplyOfYours'));
    return { replyId, recipient: message.recipient, thread: message.threadId ?? message.id, subject: message.view?.subject ?? '' };
  }

  app.get<{ Querystring: { reply?: string } }>('/console/compose', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const target = request.query.reply ? await threadTarget(request, user, request.query.reply) : undefined;
    const values = blank();
    if (target) Object.assign(values, { reply: target.replyId, recipients: target.recipient, subject: target.subject && !/^re:/i.test(target.subject) ? `Re: ${target.subject}` : target.subject });
    const links = target ? await noticeLinks(c.store, [target.recipient], c.clock.now()) : [];
    return sendPage(reply, 200, composePage(request, user, values, { target, weak: links.filter((l) => l.weak) }));
  });

  app.post('/console/compose', async (request, reply) => {
    if (!request.isMultipart()) throw new HttpError(400, i18n(request).text('console.compose.error.notMultipart'));
    // Room for every field of the form; files stay limited by the app-wide multipart limits.
    const parts = request.parts({ limits: { fields: 16 } })[Symbol.asyncIterator]();
    // The CSRF field is the form's first: checked before anything else is read.
    const first = await parts.next();
    if (first.done || first.value.type !== 'field' || first.value.fieldname !== '_csrf' || !csrfMatches(request, first.value.value)) throw new HttpError(403, CSRF_FAILED);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;

    const fields: Record<string, string> = {};
    const truncated = new Set<string>();
    const next = async (): Promise<Awaited<ReturnType<typeof parts.next>>> => {
      try {
        return await parts.next();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE') throw new ComposeError(413, (tr) => tr.text('console.compose.error.tooLarge', { size: maxSize }));
        if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT') throw new ComposeError(413, (tr) => tr.text('console.compose.error.tooManyFiles'));
        if (code === 'FST_FIELDS_LIMIT') throw new ComposeError(400, (tr) => tr.text('console.compose.error.fields'));
        throw error;
      }
    };
    const values = (): ComposeValues => ({
      recipients: fields.recipients ?? '', subject: fields.subject ?? '', text: fields.text ?? '', verification: fields.verification ?? '',
      question: fields.question ?? '', days: fields.days ?? '', readNotice: fields.readNotice === 'on', reply: fields.reply ?? '', weakLinkOk: fields.weakLinkOk === 'on',
    });
    let target: ThreadTarget | undefined;

    let spool: string | undefined;
    // The answer goes out only once the spool is gone.
    let respond: () => FastifyReply;
    let filesChosen = false;
    try {
      let pending = await next();
      while (!pending.done && pending.value.type === 'field') {
        fields[pending.value.fieldname] = String(pending.value.value);
        if (pending.value.valueTruncated) truncated.add(pending.value.fieldname);
        pending = await next();
      }
      let input: ComposeInput;
      try {
        target = fields.reply ? await threadTarget(request, user, fields.reply) : undefined;
        input = validate(fields, truncated, maxDays, target);
        // The notice (and a code) cross the recipient's link: below tls-verified, ask first.
        if ((input.verification === 'link' || input.verification === 'code') && fields.weakLinkOk !== 'on') {
          const weak = (await noticeLinks(c.store, input.recipients, c.clock.now())).filter((l) => l.weak);
          if (weak.length) throw new ComposeError(409, (tr) => tr.text('console.compose.error.weak'), weak);
        }
      } catch (error) {
        // Read the rest of the upload unstored, so the browser is sure to see the answer.
        for (; !pending.done; pending = await next()) {
          if (pending.value.type !== 'file') continue;
          filesChosen ||= Boolean(pending.value.filename);
          pending.value.file.resume();
        }
        throw error;
      }

      const key = randomBytes(32);
      spool = await openSpool(spoolRoot, c.clock.now());
      const files: SpooledFile[] = [];
      let total = 0;
      let tooLarge = false;
      for (; !pending.done; pending = await next()) {
        const part = pending.value;
        if (part.type !== 'file') continue;
        if (!part.filename) {
          part.file.resume(); // an empty file input
          continue;
        }
        filesChosen = true;
        if (tooLarge) {
          part.file.resume();
          continue;
        }
        const file = path.join(spool, String(files.length));
        let size = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            size += chunk.length;
            if (total + size > maxBytes) tooLarge = true;
            done(null, tooLarge ? undefined : chunk);
          },
        });
        await pipeline(part.file, counter, new EncryptStream(key), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
        if (part.file.truncated) tooLarge = true;
        total += size;
        const contentType = MIME_TYPE.test(part.mimetype ?? '') ? part.mimetype.toLowerCase() : 'application/octet-stream';
        files.push({ file, filename: uploadName(part.filename), contentType, size });
      }
      if (tooLarge) throw new ComposeError(413, (tr) => tr.text('console.compose.error.tooLarge', { size: maxSize }));
      if (!input.text.trim() && files.length === 0) throw new ComposeError(400, (tr) => tr.text('console.compose.error.empty'));

      const failed: string[] = [];
      const together = { composition: randomBytes(12).toString('base64url'), thread: target?.thread };
      for (const recipient of input.recipients) {
        if (!(await sendOne(c, user, recipient, input, files, key, together))) failed.push(recipient);
      }
      const sent = input.recipients.length - failed.length;
      c.logger.info({ sender: user, sent, failed: failed.length, files: files.length }, 'secure message composed');
      if (failed.length === 0) {
        respond = () => redirect(reply, `/console?sent=${sent}`);
      } else {
        // The form comes back with only the recipients still to do.
        const retry = { ...values(), recipients: failed.join(', ') };
        const tr = i18n(request);
        const partly = sent ? `${tr.text('console.compose.partly', { sent, total: input.recipients.length })} ` : '';
        const text = partly + tr.text(files.length ? 'console.compose.noticeFailedFiles' : 'console.compose.noticeFailed', { recipients: failed.join(', ') });
        respond = () => sendPage(reply, 503, composePage(request, user, retry, { error: text, target }));
      }
    } catch (error) {
      if (!(error instanceof ComposeError)) throw error;
      const tr = i18n(request);
      const text = filesChosen ? `${error.say(tr)} ${tr.text('console.compose.error.filesAgain')}` : error.say(tr);
      respond = () => sendPage(reply, error.status, composePage(request, user, values(), { error: text, weak: error.weak, target }));
    } finally {
      if (spool) await rm(spool, { recursive: true, force: true });
    }
    return respond();
  });
}

/** One recipient's pickup from the spool, its notice e-mailed; false when the notice failed. */
async function sendOne(c: WebContext, user: string, recipient: string, input: ComposeInput, files: SpooledFile[], key: Buffer, together: { composition: string; thread?: string }): Promise<boolean> {
  async function* parts(): AsyncIterable<PartInput> {
    if (input.text.trim()) yield { kind: 'text', contentType: 'text/plain; charset=utf-8', content: input.text };
    for (const file of files) yield { kind: 'attachment', contentType: file.contentType, filename: file.filename, content: openSpooled(file.file, key) };
  }
  const held = await c.pickup.create({
    sender: user, recipient, subject: input.subject, parts: parts(), verification: input.verification,
    passphraseOrAnswer: input.secret, question: input.question, expiresInDays: input.days, readNotice: input.readNotice, ...together,
  });
  const now = c.clock.now();
  try {
    const raw = buildPickupNotice(c.config, { id: held.id, messagePassword: held.messagePassword, recipient, sender: user, expiresInDays: input.days, now });
    await c.sendMail({ from: '', to: [recipient], notice: { kind: 'pickup-notice', pickupId: held.id, reportTo: user } }, raw);
  } catch (error) {
    // Without its notice nobody can open the message: withdraw it rather than leave it waiting.
    c.logger.error({ err: (error as Error).message, pickupId: held.id }, 'compose notice not sent');
    await c.pickup.retract(held.id).catch(() => undefined);
    return false;
  }
  await c.pickup.recordEvent(held.id, 'notice-sent', null, `notice sent to ${recipient}`);
  return true;
}

function openSpooled(file: string, key: Buffer): Readable {
  const sealed = createReadStream(file);
  const plain = new DecryptStream(key);
  sealed.on('error', (error) => plain.destroy(error));
  return sealed.pipe(plain);
}

/** A fresh spool folder; folders left by a crash (their key died with the request) go after a day. */
async function openSpool(root: string, now: number): Promise<string> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const old = path.join(root, name);
    const info = await stat(old).catch(() => undefined);
    if (info && info.mtimeMs < now - SPOOL_STALE_MS) await rm(old, { recursive: true, force: true }).catch(() => undefined);
  }
  const dir = path.join(root, randomBytes(12).toString('hex'));
  await mkdir(dir, { mode: 0o700 });
  return dir;
}
