/**
 * `sealgate receipt …` and `sealgate trace`: signed proof of delivery (issue 12). A receipt is
 * checked twice: the Ed25519 signature over the exact signed bytes, and the stored row against
 * what was signed (the row is what `queue show` and `trace` print).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { canonicalJson, receiptPublicKey, verifyReceipt, type ReceiptDocument } from '../audit/index.ts';
import { checkReceipt, type ReceiptCheck, type StoredReceipt } from '../queue/index.ts';
import type { Command } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { note, out, outJson } from './output.ts';
import { withRuntime } from './with-runtime.ts';

/** What `--export` writes: self-contained, checked offline with openssl or `receipt verify`. */
export interface ReceiptExport {
  format: 'sealgate-receipt-export-v1';
  messageId: string;
  /** The gateway's receipt key, SubjectPublicKeyInfo PEM (compare with `sealgate receipt key`). */
  publicKey: string;
  keyFingerprint: string;
  /** `signed`: base64 of the exact signed bytes; `signature`: base64 Ed25519; `document`: the same, readable. */
  receipts: { signed: string; signature: string; document: ReceiptDocument }[];
}

export const OFFLINE_CHECK = [
  'Check an exported receipt offline, with nothing but openssl and jq (the first receipt; .receipts[1] for the next):',
  '  sealgate receipt key > key.pem            (or the key the gateway published)',
  "  jq -r '.receipts[0].signed' FILE | base64 -d > r.bin",
  "  jq -r '.receipts[0].signature' FILE | base64 -d > r.sig",
  '  openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in r.bin -sigfile r.sig',
  'openssl prints "Signature Verified Successfully"; r.bin is the receipt itself (canonical JSON).',
];

const iso = (ms: number) => new Date(ms).toISOString();

function tlsLine(d: Pick<ReceiptDocument, 'tlsVersion' | 'cipher' | 'certVerified' | 'certSubject' | 'certFingerprint'>): string {
  if (!d.tlsVersion) return 'no TLS';
  return `${d.tlsVersion} ${d.cipher ?? ''}, certificate ${d.certVerified ? 'verified' : 'NOT verified'}${d.certSubject ? ` (${d.certSubject})` : ''}${d.certFingerprint ? `\n             certificate SHA-256 ${d.certFingerprint}` : ''}`;
}

/** The signed document when the check holds; the row's own columns (marked) otherwise. */
function shown(stored: StoredReceipt, check: ReceiptCheck): ReceiptDocument {
  if (check.status === 'valid') return check.document;
  const r = stored.receipt;
  return {
    format: 'sealgate-receipt-v1', kind: stored.kind ?? 'failed', messageId: stored.messageId, mailFrom: stored.mailFrom ?? '', recipient: r.recipient, at: iso(r.at),
    mxHost: r.mxHost, ip: r.ip, port: r.port, tlsVersion: r.tlsVersion, cipher: r.cipher, certSubject: r.certSubject, certFingerprint: r.certFingerprint ?? null,
    certVerified: r.certVerified, reply: r.reply, route: r.route ?? null, routeReason: r.routeReason ?? null, messageSha256: r.messageSha256 ?? null,
  };
}

function verdictLine(check: ReceiptCheck): string {
  if (check.status === 'valid') return 'signature: valid';
  if (check.status === 'unsigned') return `NOT SIGNED: ${check.reason}`;
  return `INVALID: ${check.reason}`;
}

/*
 * An invalid receipt is printed from its row, which whoever edited the database wrote:
 * terminalSafe spares LF, so a reply of "250 …\n  signature: valid" would add a verdict line
 * (or, in trace, a whole delivery). Each value stays on its line, CR and LF spelled out (i12-11).
 */
function singleLines(d: ReceiptDocument): ReceiptDocument {
  const entries = Object.entries(d).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\r/g, '\\r').replace(/\n/g, '\\n') : v]);
  return Object.fromEntries(entries) as ReceiptDocument;
}

function formatReceipt(document: ReceiptDocument, verdict: string, index: number, count: number): string {
  const d = singleLines(document);
  const where = d.kind === 'pickup-opened' ? `  opened     from [${d.ip ?? '-'}]` : `  server     ${d.mxHost ? `${d.mxHost} [${d.ip ?? '-'}]${d.port ? `:${d.port}` : ''}` : '(none: decided here)'}`;
  return [
    `receipt ${index + 1} of ${count}: ${d.kind}  <${d.recipient}>`,
    `  message    ${d.messageId} from <${d.mailFrom}>`,
    `  time       ${d.at}`,
    where,
    `  link       ${tlsLine(d)}`,
    `  reply      ${d.reply}`,
    `  route      ${d.route ?? '-'}${d.routeReason ? `: ${d.routeReason}` : ''}`,
    `  sha256     ${d.messageSha256 ?? '(no message sent)'}`,
    `  ${verdict}`,
  ].join('\n');
}

function readKey(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(EX.noInput, `cannot read the key file ${file}: ${(error as Error).message}`);
  }
  try {
    receiptPublicKey(pem);
  } catch (error) {
    throw new CliError(EX.data, `${file}: ${(error as Error).message}`);
  }
  return pem;
}

/*
 * The file around the signed bytes is unsigned: whoever hands it on can edit the readable copy
 * (what anyone reads with jq), the message ID it claims to be about, or put another key beside
 * the gateway's fingerprint. Each must agree with what the signature covers, or the file lies.
 */
function checkFileKey(name: string, file: ReceiptExport): void {
  if (file.keyFingerprint === undefined) return;
  let fingerprint: string;
  try {
    fingerprint = receiptPublicKey(String(file.publicKey ?? '')).fingerprint;
  } catch (error) {
    throw new CliError(EX.data, `${name}: ${(error as Error).message}`);
  }
  if (String(file.keyFingerprint).toLowerCase() !== fingerprint) {
    throw new CliError(EX.data, `${name}: the file's keyFingerprint is not the SHA-256 of its publicKey (${fingerprint}): the file was edited; check it with --key and the gateway's published key`);
  }
}

function verifyExported(file: ReceiptExport, r: ReceiptExport['receipts'][number], pem: string): ReturnType<typeof verifyReceipt> {
  const bytes = Buffer.from(String(r.signed), 'base64');
  const verdict = verifyReceipt(bytes, String(r.signature), pem);
  if (!verdict.valid) return verdict;
  if (r.document !== undefined && canonicalJson(r.document) !== bytes.toString('utf8')) {
    return { valid: false, reason: 'the readable copy (document) in the file differs from the signed bytes: the file was edited; only the signed bytes are proven' };
  }
  if (file.messageId !== undefined && String(file.messageId) !== verdict.document.messageId) {
    return { valid: false, reason: `the receipt is of message ${verdict.document.messageId}, the file says ${String(file.messageId)}` };
  }
  return verdict;
}

function parseTime(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(String(value));
  if (!/^\d{4}-\d{2}-\d{2}/.test(String(value)) || Number.isNaN(ms)) throw new UsageError(`--${name} ${String(value)}: give an ISO 8601 time, e.g. 2026-12-03 or 2026-12-03T14:00:00Z`);
  return ms;
}

export const receiptCommands: Command[] = [
  {
    name: 'receipt key',
    summary: "the gateway's Ed25519 receipt key (public, PEM) that signs every proof of delivery",
    details: ['Derived from the master key: every node of a cluster prints the same key. Publish it; receipts verify with it alone.'],
    json: true,
    args: { max: 0 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ receiptSigner }) => {
        if (ctx.json) outJson({ algorithm: 'Ed25519', publicKeyPem: receiptSigner.publicKeyPem, fingerprint: receiptSigner.keyFingerprint });
        else process.stdout.write(receiptSigner.publicKeyPem);
        return EX.ok;
      }),
  },
  {
    name: 'receipt verify',
    usage: 'FILE [--key PEM]',
    summary: 'check an exported receipt file offline (no database needed)',
    details: ['Without --key the key inside the file is used: compare its fingerprint with the published key, or pass that key with --key.', ...OFFLINE_CHECK],
    options: { key: { type: 'string', value: 'PEM', help: "the gateway's published receipt key (a PEM file) to check against" } },
    json: true,
    args: { min: 1, max: 1 },
    run: async (ctx) => {
      let file: ReceiptExport;
      try {
        file = JSON.parse(readFileSync(ctx.args[0], 'utf8')) as ReceiptExport;
      } catch (error) {
        throw new CliError(EX.data, `${ctx.args[0]} is not a receipt export: ${(error as Error).message}`);
      }
      if (file?.format !== 'sealgate-receipt-export-v1' || !Array.isArray(file.receipts)) throw new CliError(EX.data, `${ctx.args[0]} is not a receipt export (sealgate receipt ID --export FILE writes one)`);
      checkFileKey(ctx.args[0], file);
      const pem = typeof ctx.options.key === 'string' ? readKey(ctx.options.key) : String(file.publicKey ?? '');
      const results = file.receipts.map((r) => verifyExported(file, r, pem));
      const invalid = results.filter((r) => !r.valid).length;
      if (ctx.json) {
        outJson({ key: typeof ctx.options.key === 'string' ? 'given' : 'from the file', receipts: results.map((r) => (r.valid ? { valid: true, document: r.document } : { valid: false, reason: r.reason })), valid: invalid === 0 && results.length > 0 });
      } else {
        if (typeof ctx.options.key !== 'string') {
          let fingerprint = '(unreadable)';
          try {
            fingerprint = receiptPublicKey(pem).fingerprint;
          } catch {
            // reported per receipt below
          }
          note(`checked with the key inside the file (SHA-256 ${fingerprint}); it proves the receipt only if that is the gateway's published key (sealgate receipt key --json shows its fingerprint)`);
        }
        results.forEach((r, i) => out(r.valid ? formatReceipt(r.document, 'signature: valid', i, results.length) : `receipt ${i + 1} of ${results.length}: INVALID: ${r.reason}`));
      }
      if (results.length === 0) throw new CliError(EX.data, `${ctx.args[0]} holds no receipts`);
      return invalid ? EX.data : EX.ok;
    },
  },
  {
    name: 'receipt',
    usage: 'ID [--export FILE]',
    summary: 'the signed receipts of one message (each final delivery, failure, hold for pickup and pickup opened), each verified',
    details: ['Exits 65 when any receipt does not verify (changed after signing) or carries no signature.', 'sealgate receipt key prints the public key; sealgate receipt verify FILE checks an export.', ...OFFLINE_CHECK],
    options: { export: { type: 'string', value: 'FILE', help: 'also write the receipts, their exact signed bytes, signatures and the public key to FILE (JSON)' } },
    json: true,
    args: { min: 1, max: 1 },
    run: (ctx) =>
      withRuntime(ctx.config, ctx.deps, async ({ queue, receiptSigner }) => {
        const messageId = ctx.args[0];
        const all = await queue.receipts(messageId);
        const finals = all.filter((r) => r.kind !== null);
        if (finals.length === 0) {
          const more = all.length ? ` (${all.length} deferred attempt(s) so far; a deferral is not signed: see sealgate queue show ${messageId})` : ' (sealgate trace searches by sender, recipient and time)';
          throw new CliError(EX.noInput, `no final receipt for message ${messageId}${more}`);
        }
        const checks = finals.map((r) => checkReceipt(r, receiptSigner.publicKeyPem));
        const failing = checks.filter((c) => c.status !== 'valid').length;
        if (typeof ctx.options.export === 'string') {
          const exported: ReceiptExport = {
            format: 'sealgate-receipt-export-v1',
            messageId,
            publicKey: receiptSigner.publicKeyPem,
            keyFingerprint: receiptSigner.keyFingerprint,
            receipts: finals.filter((r) => r.signed !== null && r.signature !== null).map((r) => ({ signed: Buffer.from(r.signed!, 'utf8').toString('base64'), signature: r.signature!, document: JSON.parse(r.signed!) as ReceiptDocument })),
          };
          try {
            writeFileSync(ctx.options.export, `${JSON.stringify(exported, null, 2)}\n`);
          } catch (error) {
            throw new CliError(EX.cantCreate, `cannot write ${ctx.options.export}: ${(error as Error).message}`);
          }
          note(`wrote ${exported.receipts.length} receipt(s) to ${ctx.options.export}; check offline with: sealgate receipt verify ${ctx.options.export} (or openssl: sealgate receipt --help)`);
        }
        if (ctx.json) {
          outJson({
            messageId,
            keyFingerprint: receiptSigner.keyFingerprint,
            receipts: finals.map((r, i) => ({ status: checks[i].status, ...(checks[i].status === 'valid' ? {} : { reason: (checks[i] as { reason: string }).reason }), receipt: shown(r, checks[i]), signature: r.signature })),
            valid: failing === 0,
          });
        } else {
          out(finals.map((r, i) => formatReceipt(shown(r, checks[i]), verdictLine(checks[i]), i, finals.length)).join('\n\n'));
        }
        if (failing) note(`${failing} of ${finals.length} receipt(s) of ${messageId} are not proven: what they say cannot be relied on`);
        return failing ? EX.data : EX.ok;
      }),
  },
  {
    name: 'trace',
    usage: '[--message-id ID] [--from ADDR] [--to ADDR] [--since T] [--until T] [--limit N]',
    summary: 'search final deliveries (signed receipts) by message, sender, recipient and time, newest first',
    details: ['Times are ISO 8601 (2026-12-03, 2026-12-03T14:00:00Z). Each line says whether its receipt verifies; sealgate receipt ID shows one in full.'],
    options: {
      'message-id': { type: 'string', value: 'ID', help: 'the queue ID' },
      from: { type: 'string', value: 'ADDR', help: 'envelope sender (<> for the null sender)' },
      to: { type: 'string', value: 'ADDR', help: 'recipient address' },
      since: { type: 'string', value: 'T', help: 'at or after this time' },
      until: { type: 'string', value: 'T', help: 'at or before this time' },
      limit: { type: 'string', value: 'N', help: 'at most N receipts (default 100, at most 10000)' },
    },
    json: true,
    args: { max: 0 },
    run: (ctx) => {
      const limit = ctx.options.limit === undefined ? 100 : Number(ctx.options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError(`--limit ${String(ctx.options.limit)}: give a whole number from 1 to 10000`);
      const filter = {
        messageId: ctx.options['message-id'] as string | undefined,
        from: ctx.options.from as string | undefined,
        to: ctx.options.to as string | undefined,
        since: parseTime('since', ctx.options.since),
        until: parseTime('until', ctx.options.until),
        limit,
      };
      return withRuntime(ctx.config, ctx.deps, async ({ queue, receiptSigner }) => {
        const found = await queue.trace(filter);
        const checks = found.map((r) => checkReceipt(r, receiptSigner.publicKeyPem));
        if (ctx.json) {
          outJson(found.map((r, i) => ({ status: checks[i].status, receipt: shown(r, checks[i]) })));
        } else if (found.length === 0) {
          note('no deliveries match');
        } else {
          for (const [i, r] of found.entries()) {
            const d = singleLines(shown(r, checks[i]));
            const proof = checks[i].status === 'valid' ? 'signed' : checks[i].status === 'unsigned' ? 'UNSIGNED' : 'INVALID';
            out(`${d.at}  ${d.kind.padEnd(15)}  ${d.messageId}  <${d.mailFrom}> -> <${d.recipient}>  ${d.mxHost ?? '-'} [${d.ip ?? '-'}]  ${d.tlsVersion ?? 'no TLS'}  ${proof}  ${d.reply}`);
          }
        }
        const failing = checks.filter((c) => c.status === 'invalid').length;
        if (failing) note(`${failing} receipt(s) do not verify: sealgate receipt ID says why`);
        return failing ? EX.data : EX.ok;
      });
    },
  },
];
