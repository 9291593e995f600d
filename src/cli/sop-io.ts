/** What every `sealgate sop` verb shares: exit codes, option parsing, inputs, certificate and key reading. */
import { existsSync, readFileSync } from 'node:fs';
import { readOpenpgpCertificates as readCertificates, readOpenpgpSecretKeys as readSecretKeys, type OpenpgpVerification as Verification } from '../e2e/index.ts';

export const SOP_EXIT = { ok: 0, fail: 1, noSignature: 3, missingArg: 19, cannotDecrypt: 29, unsupportedOption: 37, badData: 41, outputExists: 59, missingInput: 61, unsupportedSubcommand: 69, incompatibleOptions: 83, unsupportedProfile: 89 } as const;

export class SopError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface Parsed {
  flags: Map<string, string[]>;
  args: string[];
}

/** `--opt=value` and `--flag`; everything after `--` is positional. */
export function parse(argv: string[], known: Record<string, 'flag' | 'value'>): Parsed {
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  let rest = false;
  for (const token of argv) {
    if (rest || !token.startsWith('--')) {
      args.push(token);
      continue;
    }
    if (token === '--') {
      rest = true;
      continue;
    }
    const eq = token.indexOf('=');
    const name = token.slice(2, eq < 0 ? undefined : eq);
    const kind = known[name];
    if (!kind) throw new SopError(SOP_EXIT.unsupportedOption, `unsupported option --${name}`);
    if (kind === 'value' && eq < 0) throw new SopError(SOP_EXIT.missingArg, `--${name} needs a value (--${name}=…)`);
    flags.set(name, [...(flags.get(name) ?? []), eq < 0 ? '' : token.slice(eq + 1)]);
  }
  return { flags, args };
}

/** An indirect input: a file name, or @ENV:NAME / @FD:N (draft §"Special Designators"). */
export function input(name: string): Buffer {
  if (name.startsWith('@ENV:')) return Buffer.from(process.env[name.slice(5)] ?? '');
  if (name.startsWith('@FD:')) return readFileSync(Number(name.slice(4)));
  if (!existsSync(name)) throw new SopError(SOP_EXIT.missingInput, `${name} does not exist`);
  return readFileSync(name);
}

export async function stdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The draft's DATE (ISO-8601, `now`, or `-` for no bound) of a `--not-before`/`--not-after`
 * style option; `fallback` when the option is absent. An unreadable date is refused, never
 * taken as "no bound".
 */
export function dateOption(p: Parsed, name: string, fallback: Date | null, now: Date): Date | null {
  const value = p.flags.get(name)?.at(-1);
  if (value === undefined) return fallback;
  if (value === '-') return null;
  if (value === 'now') return now;
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw new SopError(SOP_EXIT.unsupportedOption, `--${name}=${value} is not an ISO-8601 date, "now" or "-"`);
  return at;
}

/** The verifications whose signing time lies in [notBefore, notAfter] (draft: "verify"); bounds null: open. */
export function withinWindow(verifications: Verification[], notBefore: Date | null, notAfter: Date | null): Verification[] {
  return verifications.filter((v) => {
    const at = v.signedAt?.getTime();
    if (at === undefined) return notBefore === null && notAfter === null;
    return (notBefore === null || at >= notBefore.getTime()) && (notAfter === null || at <= notAfter.getTime());
  });
}

export function verificationLines(verifications: Verification[]): string {
  return verifications
    .filter((v) => v.valid && v.certificate)
    .map((v) => `${(v.signedAt ?? new Date(0)).toISOString().replace(/\.\d{3}Z$/, 'Z')} ${v.signingKeyFingerprint} ${v.certificate!.getFingerprint().toUpperCase()} mode:${v.textMode ? 'text' : 'binary'}\n`)
    .join('');
}

export async function certsOf(names: string[]) {
  const all = [];
  for (const n of names) all.push(...(await readCertificates(input(n)).catch(() => { throw new SopError(SOP_EXIT.badData, `${n} holds no OpenPGP certificate`); })));
  return all;
}

export async function keysOf(names: string[]) {
  const all = [];
  for (const n of names) all.push(...(await readSecretKeys(input(n)).catch(() => { throw new SopError(SOP_EXIT.badData, `${n} holds no OpenPGP secret key`); })));
  return all;
}

export type Verb = (argv: string[], io: { write(b: Uint8Array | string): void }) => Promise<number>;

