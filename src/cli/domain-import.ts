import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import net from 'node:net';
import { z } from 'zod';
import { LINK_LEVELS, type Logger } from '../kernel/index.ts';
import { levelOf, type LinkLevel, type LinkSecurityMemory } from '../linksec/index.ts';
import { atLeast } from '../policy/index.ts';
import type { AuditLog } from '../audit/index.ts';
import { adminActor } from './admin-actor.ts';

/** An export of tens of thousands of domains fits; anything larger is not an export of ours. */
export const MAX_IMPORT_BYTES = 4 * 1024 * 1024;
const MAX_RECORDS = 20_000;
/** Nothing Sealgate recorded predates it; a record from 1970 is a forgery or a bug. */
const EARLIEST = Date.UTC(2020, 0, 1);
/** Clock skew tolerated between the exporting site and us. */
const SKEW_MS = 5 * 60_000;
/** The longest a record may hold: MTA-STS max_age is at most a year (RFC 8461 §3.2). */
const MAX_HOLD_MS = 366 * 86_400_000;

// RFC 1035 §2.3.1 / RFC 5890 A-labels: letters, digits, hyphens, at least two labels, 253 octets.
const hostName = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$/i, 'not a DNS host name')
  .transform((name) => name.toLowerCase().replace(/\.$/, ''));
/** Printable text only: nothing an imported value could smuggle into a log, a header or a terminal. */
const text = (max: number) => z.string().max(max).regex(/^[\x20-\x7e]*$/, 'only printable ASCII (no CR, LF, NUL or other control characters)');

function importedRecord(now: number) {
  return z
    .object({
      domain: hostName,
      mxHost: hostName,
      ip: z.string().refine((ip) => net.isIP(ip) !== 0, 'not an IP address').nullable().default(null),
      starttlsOffered: z.boolean(),
      tlsVersion: z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']).nullable(),
      cipher: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a cipher name').nullable().default(null),
      certSubject: text(512).nullable().default(null),
      certValid: z.boolean(),
      certError: text(512).nullable().default(null),
      requireTlsAdvertised: z.boolean().default(false),
      error: text(512).nullable().default(null),
      mtaSts: z.enum(['enforce', 'testing', 'none']).nullable().default(null),
      dane: z.enum(['matched', 'mismatch']).nullable().default(null),
      at: z
        .number()
        .int()
        .min(EARLIEST, 'dated before 2020')
        .max(now + SKEW_MS, 'dated in the future'),
      // What `domain export` writes besides the evidence; checked against it, never trusted alone.
      level: z.enum(LINK_LEVELS).optional(),
      expiresAt: z.number().int().optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      const earned = levelOf(r);
      if (r.level !== undefined && r.level !== earned) ctx.addIssue({ code: 'custom', path: ['level'], message: `says ${r.level}, but the evidence earns ${earned}` });
      if (r.expiresAt !== undefined && (r.expiresAt <= r.at || r.expiresAt - r.at > MAX_HOLD_MS)) ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be after `at` and at most a year later' });
      if (r.tlsVersion === null && (r.certValid || r.dane === 'matched')) ctx.addIssue({ code: 'custom', path: ['tlsVersion'], message: 'a valid certificate or a DANE match needs a TLS session' });
    });
}

function readCapped(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_IMPORT_BYTES) throw new ImportError(`${file} is ${size} bytes; an import is at most ${MAX_IMPORT_BYTES} bytes`);
    const buffer = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

class ImportError extends Error {}

/**
 * `sealgate domain import FILE [--force]`: another site's `domain export`. Every field is
 * validated and the whole file is refused on the first bad record (nothing half-imported). An
 * import may raise a level or add evidence, never lower what was proved here (the memory's
 * own rule); `--force` overwrites, and each record it lowers is logged as an audit line.
 */
export interface ImportOptions {
  force?: boolean;
  now?: number;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Where a forced lowering is recorded (the CLI passes the audit chain). */
  audit?: Pick<AuditLog, 'record'>;
}

export async function importCommand(memory: LinkSecurityMemory, logger: Logger, file: string, options: ImportOptions = {}): Promise<number> {
  const { force = false, now = Date.now() } = options;
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  let records;
  try {
    let json: unknown;
    try {
      json = JSON.parse(readCapped(file));
    } catch (error) {
      // A file that cannot be opened is not a JSON error: the CLI says which and why (exit 66, 77 …).
      if (error instanceof ImportError || (error as NodeJS.ErrnoException).code) throw error;
      throw new ImportError(`${file}: not JSON (${(error as Error).message})`);
    }
    const parsed = z.array(importedRecord(now)).max(MAX_RECORDS, `at most ${MAX_RECORDS} records`).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ImportError(`${file}: record ${issue.path.join('.') || '(file)'}: ${issue.message}`);
    }
    records = parsed.data;
  } catch (error) {
    if (!(error instanceof ImportError)) throw error;
    err(`sealgate: ${error.message}; nothing imported`);
    return 65;
  }
  let stored = 0;
  let kept = 0;
  for (const { level: _level, expiresAt, ...observation } of records) {
    const holdMs = expiresAt !== undefined ? expiresAt - observation.at : undefined;
    const live = (await memory.list(observation.domain)).filter((r) => r.expiresAt > now);
    const existing = live.find((r) => r.mxHost === observation.mxHost.toLowerCase());
    // A record for an MX name not known here also sets what every other never-seen name of the
    // domain is held to (policy heldLevel: the weakest live record), so one weaker than what the
    // domain proved lowers the domain: only with --force, like any other lowering.
    if (!force && !existing && live.some((r) => !atLeast(levelOf(observation), r.level))) {
      kept++;
      continue;
    }
    const result = await memory.record(observation, holdMs, { force });
    if (result.kept) {
      kept++;
      continue;
    }
    stored++;
    const lowered = (existing ? [existing] : live).find((r) => !atLeast(result.level as LinkLevel, r.level));
    if (force && lowered) {
      logger.warn({ audit: true, action: 'domain.import.force', file, domain: observation.domain, mxHost: observation.mxHost, from: lowered.level, to: result.level }, 'link-security record lowered by a forced import');
      await options.audit?.record({ actor: adminActor(), action: 'domain.import.force', target: observation.domain, protocol: 'cli', detail: { file, mxHost: observation.mxHost, before: lowered.level, after: result.level } });
    }
  }
  out(`imported ${stored} record(s)${kept ? `; kept ${kept} stronger or longer-holding record(s) already here (use --force to overwrite)` : ''}`);
  return 0;
}
