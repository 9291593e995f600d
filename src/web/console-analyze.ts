import type { FastifyInstance, FastifyRequest } from 'fastify';
import { analyzeMessage, MAX_SIGNATURES, type MessageAnalysis } from '../auth/index.ts';
import { TraceLimitError, type HopReason, type TraceHop } from '../mail/index.ts';
import type { ConsoleHelpers } from './console-shared.ts';
import type { WebContext } from './context.ts';
import { html, type Html } from './html.ts';
import { i18n, type MessageKey, type Translator } from './i18n/index.ts';
import { csrfField, formatTime, notice, shown } from './layout.ts';
import { CSRF_FAILED, HttpError, csrfMatches, ctx, sendPage } from './security.ts';

/*
 * "Was it sent over TLS?" for a signed-in sender (issue 12): paste a message's header (or the
 * whole message) or upload it, and read the same analysis `sealgate analyze` prints. Everything
 * shown comes from a stranger's headers: it goes through the html template (escaped) and
 * `shown` (hidden characters dropped), never as markup. Nothing is stored or logged but the size.
 */

/** A pasted or uploaded message past this is refused with 413: headers are what is analysed. */
export const ANALYZE_LIMIT_BYTES = 1024 * 1024;

const REASON_KEYS: Record<HopReason, MessageKey> = {
  'no-sending-host': 'console.analyze.reason.noSendingHost',
  loopback: 'console.analyze.reason.loopback',
  'not-smtp': 'console.analyze.reason.notSmtp',
  'tls-recorded': 'console.analyze.reason.tlsRecorded',
  'tls-keyword': 'console.analyze.reason.tlsKeyword',
  'plain-keyword': 'console.analyze.reason.plainKeyword',
  'microsoft-no-tls': 'console.analyze.reason.microsoftNoTls',
  'no-protocol': 'console.analyze.reason.noProtocol',
  'unknown-protocol': 'console.analyze.reason.unknownProtocol',
};

const TRANSPORT_KEYS = {
  tls: 'console.analyze.transport.tls',
  plain: 'console.analyze.transport.plain',
  local: 'console.analyze.transport.local',
  unknown: 'console.analyze.transport.unknown',
} as const satisfies Record<TraceHop['transport'], MessageKey>;

function reasonOf(tr: Translator, hop: TraceHop): Html {
  const tls = [hop.tls?.version, hop.tls?.cipher].filter(Boolean).join(' ') || 'TLS';
  // Each reason names the placeholders it needs of these two; the others are ignored.
  const t = tr.t as unknown as (key: MessageKey, params: Record<string, string>) => Html;
  return t(REASON_KEYS[hop.reasonCode], { protocol: shown(hop.protocol ?? ''), tls: shown(tls) });
}

function verdictOf(tr: Translator, analysis: MessageAnalysis): Html {
  const { verdict, networkHops, tlsHops, unknownHops, hops } = analysis.trace;
  if (verdict === 'tls-on-every-hop') return notice('ok', tr.t('console.analyze.verdict.every', { count: networkHops }));
  if (verdict === 'tls-on-some-hops') {
    const text = tr.t('console.analyze.verdict.some', { tls: tlsHops, count: networkHops });
    return notice('error', unknownHops ? html`${text} ${tr.t('console.analyze.verdict.someUnknown', { count: unknownHops })}` : text);
  }
  return notice('info', hops.length === 0 ? tr.t('console.analyze.verdict.noHops') : networkHops === 0 ? tr.t('console.analyze.verdict.noNetwork') : tr.t('console.analyze.verdict.unknown', { count: unknownHops }));
}

function hopTable(tr: Translator, hops: TraceHop[]): Html {
  const [n, how, from, by, withLabel, tls, time, why] = ['hop', 'transport', 'from', 'by', 'with', 'tls', 'time', 'reason'].map((k) => tr.text(`console.analyze.col.${k}` as 'console.analyze.col.hop'));
  const rows = hops.map((h) => {
    const delay = h.delaySeconds === null ? '' : html` <span class="meta">${tr.t('console.analyze.delay', { seconds: h.delaySeconds })}</span>`;
    const sender = h.from ? `${shown(h.from)}${h.fromIp ? ` [${shown(h.fromIp)}]` : ''}` : '—';
    const tlsText = h.tls ? [h.tls.version, h.tls.cipher].filter(Boolean).map((x) => shown(x)).join(' ') || 'TLS' : '—';
    return html`<tr class="hop ${h.transport}"><td data-label="${n}">${h.index}</td><td data-label="${how}">${tr.t(TRANSPORT_KEYS[h.transport])}</td><td data-label="${from}">${sender}</td><td data-label="${by}">${shown(h.by ?? '—')}</td><td data-label="${withLabel}">${shown(h.with ?? '—')}</td><td data-label="${tls}">${tlsText}</td><td data-label="${time}">${h.time ? formatTime(Date.parse(h.time), tr) : '—'}${delay}</td><td data-label="${why}">${reasonOf(tr, h)}</td></tr>`;
  });
  return html`<div class="card table-wrap"><table id="hops" class="hops"><caption>${tr.t('console.analyze.caption')}</caption><thead><tr><th scope="col">${n}</th><th scope="col">${how}</th><th scope="col">${from}</th><th scope="col">${by}</th><th scope="col">${withLabel}</th><th scope="col">${tls}</th><th scope="col">${time}</th><th scope="col">${why}</th></tr></thead><tbody>
${rows}
</tbody></table></div>`;
}

function authSection(tr: Translator, analysis: MessageAnalysis): Html {
  const recorded = analysis.recorded.map((r) => html`<li><strong>${shown(r.authservId ?? tr.text('console.analyze.noAuthservId'))}</strong>: ${r.results.map((x) => `${shown(x.method)}=${shown(x.result)}`).join(' ') || '—'}</li>`);
  let checked: Html;
  if (analysis.signatures) {
    const { dkim, arc } = analysis.signatures;
    const lines = dkim.length
      ? dkim.map((d) => html`<li>${tr.t('console.analyze.dkimLine', { result: shown(d.result), domain: shown(d.domain ?? '?'), selector: shown(d.selector ?? '?') })}${d.comment ? html` <span class="meta">(${shown(d.comment)})</span>` : ''}</li>`)
      : [html`<li>${tr.t('console.analyze.dkimNone')}</li>`];
    checked = html`<ul class="files" id="rechecked">${lines}<li>${tr.t('console.analyze.arcLine', { result: shown(arc.result) })}${arc.comment ? html` <span class="meta">(${shown(arc.comment)})</span>` : ''}</li></ul>`;
  } else if (analysis.tooManySignatures !== null) checked = notice('info', tr.t('console.analyze.recheckTooMany', { count: analysis.tooManySignatures, max: MAX_SIGNATURES }));
  else checked = notice('info', analysis.recheckError ? tr.t('console.analyze.recheckFailed') : tr.t('console.analyze.recheckOff'));
  return html`<h2>${tr.t('console.analyze.recordedHeading')}</h2>
<p class="meta">${tr.t('console.analyze.recordedIntro')}</p>
${recorded.length ? html`<ul class="files" id="recorded">${recorded}</ul>` : html`<p>${tr.t('console.analyze.recordedNone')}</p>`}
<h2>${tr.t('console.analyze.recheckHeading')}</h2>
${checked}`;
}

export function registerConsoleAnalyze(app: FastifyInstance, c: WebContext, helpers: ConsoleHelpers): void {
  const analyze = c.analyzeMessage ?? ((message: Buffer) => analyzeMessage(message));

  function form(request: FastifyRequest, tr: Translator): Html {
    return html`<form method="post" action="/console/analyze" enctype="multipart/form-data" class="card" id="analyze-form">${csrfField(ctx(request).csrf)}
<label for="message">${tr.t('console.analyze.pasteLabel')}</label>
<textarea id="message" name="message" rows="12" spellcheck="false" aria-describedby="message-hint"></textarea>
<p class="meta" id="message-hint">${tr.t('console.analyze.pasteHint', { mb: ANALYZE_LIMIT_BYTES / 1024 / 1024 })}</p>
<label for="file">${tr.t('console.analyze.fileLabel')}</label>
<input type="file" id="file" name="file" accept=".eml,message/rfc822,text/plain">
<button type="submit" id="analyze">${tr.t('console.analyze.button')}</button>
</form>`;
  }

  function analyzePage(request: FastifyRequest, user: string, result?: Html, error?: string): string {
    const tr = i18n(request);
    const body = html`<h1>${tr.t('console.analyze.heading')}</h1>
<p>${tr.t('console.analyze.intro')}</p>
${notice('error', error)}${result ?? ''}
${form(request, tr)}
<p><a href="/console">${tr.t('console.sessions.back')}</a></p>`;
    return helpers.consolePage(request, user, tr.text('console.analyze.title'), body);
  }

  app.get('/console/analyze', async (request, reply) => {
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    return sendPage(reply, 200, analyzePage(request, user));
  });

  app.post('/console/analyze', async (request, reply) => {
    const tr = i18n(request);
    if (!request.isMultipart()) throw new HttpError(400, tr.text('console.analyze.error.notMultipart'));
    const parts = request.parts({ limits: { fields: 4, files: 1, parts: 6, fileSize: ANALYZE_LIMIT_BYTES, fieldSize: ANALYZE_LIMIT_BYTES } })[Symbol.asyncIterator]();
    // The CSRF field is the form's first: checked before anything else is read.
    const first = await parts.next();
    if (first.done || first.value.type !== 'field' || first.value.fieldname !== '_csrf' || !csrfMatches(request, first.value.value)) throw new HttpError(403, CSRF_FAILED);
    const user = await helpers.sender(request, reply);
    if (!user) return reply;
    const tooLarge = () => sendPage(reply, 413, analyzePage(request, user, undefined, tr.text('console.analyze.error.tooLarge', { mb: ANALYZE_LIMIT_BYTES / 1024 / 1024 })));
    let pasted: Buffer | undefined;
    let uploaded: Buffer | undefined;
    try {
      for (let part = await parts.next(); !part.done; part = await parts.next()) {
        const value = part.value;
        if (value.type === 'field') {
          if (value.valueTruncated) return tooLarge();
          if (value.fieldname === 'message') pasted = Buffer.from(String(value.value), 'utf8');
        } else if (value.fieldname === 'file') uploaded = await value.toBuffer();
        else value.file.resume();
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE' || code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT') return tooLarge();
      if (code === 'FST_FIELDS_LIMIT') throw new HttpError(400, tr.text('console.analyze.error.notMultipart'));
      throw error;
    }
    const message = uploaded?.length ? uploaded : pasted?.toString('utf8').trim() ? pasted : undefined;
    if (!message) return sendPage(reply, 400, analyzePage(request, user, undefined, tr.text('console.analyze.error.empty')));
    c.logger.info({ username: user, bytes: message.length }, 'console: message analysed');
    let analysis: MessageAnalysis;
    try {
      analysis = await analyze(message);
    } catch (error) {
      if (!(error instanceof TraceLimitError)) throw error;
      // Only the Received count can be past its limit here: the whole message is at most 1 MB.
      return sendPage(reply, 413, analyzePage(request, user, undefined, tr.text('console.analyze.error.tooManyHops', { count: error.limit.count, max: error.limit.max })));
    }
    const result = html`<section id="analysis" aria-labelledby="analysis-heading"><h2 id="analysis-heading">${tr.t('console.analyze.resultHeading')}</h2>
${verdictOf(tr, analysis)}
<p class="meta">${tr.t('console.analyze.forgeable')}</p>
${analysis.trace.hops.length ? hopTable(tr, analysis.trace.hops) : ''}
${authSection(tr, analysis)}</section>`;
    return sendPage(reply, 200, analyzePage(request, user, result));
  });
}
