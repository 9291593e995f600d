/**
 * Exit codes from BSD sysexits.h (what Postfix's own commands and mail tools use), and one
 * sentence per failure: what went wrong and, where we know, what to do.
 */
export const EX = {
  ok: 0,
  usage: 64,
  data: 65,
  noInput: 66,
  unavailable: 69,
  software: 70,
  cantCreate: 73,
  io: 74,
  tempFail: 75,
  noPerm: 77,
  config: 78,
} as const;

/** A failure the CLI can name: its sentence goes to stderr, its code is the exit status. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong: the sentence and that command's usage, exit 64. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface SystemError extends Error {
  code?: string;
  path?: string;
  address?: string;
  port?: number;
  syscall?: string;
}

const ERRNO: Record<string, { code: number; say: (e: SystemError) => string }> = {
  ENOENT: { code: EX.noInput, say: (e) => `${e.path ?? 'a file'} does not exist` },
  ENOTDIR: { code: EX.noInput, say: (e) => `${e.path ?? 'a path'}: a part of the path is not a directory` },
  EISDIR: { code: EX.noInput, say: (e) => `${e.path ?? 'a path'} is a directory, not a file` },
  EACCES: { code: EX.noPerm, say: (e) => `no permission to ${e.syscall ?? 'open'} ${e.path ?? 'a file'} (run as the user that owns the data dir)` },
  EPERM: { code: EX.noPerm, say: (e) => `not permitted to ${e.syscall ?? 'change'} ${e.path ?? 'a file'}` },
  EEXIST: { code: EX.cantCreate, say: (e) => `${e.path ?? 'a file'} exists already` },
  EROFS: { code: EX.cantCreate, say: (e) => `${e.path ?? 'a file'} is on a read-only file system` },
  ENOSPC: { code: EX.io, say: () => 'the disk is full' },
  EDQUOT: { code: EX.io, say: () => 'the disk quota is exhausted' },
  EIO: { code: EX.io, say: (e) => `input/output error on ${e.path ?? 'a file'}` },
  ECONNREFUSED: { code: EX.unavailable, say: (e) => `nothing listens at ${e.address ?? '?'}:${e.port ?? '?'} (is the database or server running?)` },
  EHOSTUNREACH: { code: EX.unavailable, say: (e) => `${e.address ?? 'the host'} cannot be reached` },
  ENETUNREACH: { code: EX.unavailable, say: (e) => `the network of ${e.address ?? 'the host'} cannot be reached` },
  ENOTFOUND: { code: EX.unavailable, say: (e) => `the name ${(e as { hostname?: string }).hostname ?? ''} does not resolve` },
  EAI_AGAIN: { code: EX.tempFail, say: () => 'DNS did not answer in time; try again' },
  ETIMEDOUT: { code: EX.tempFail, say: (e) => `${e.address ?? 'the peer'} did not answer in time; try again` },
  ECONNRESET: { code: EX.tempFail, say: () => 'the connection was reset; try again' },
  SQLITE_BUSY: { code: EX.tempFail, say: () => 'the database is busy (another process holds a write lock); try again' },
  SQLITE_CANTOPEN: { code: EX.cantCreate, say: () => 'the database file cannot be opened or created (check the data dir and its permissions)' },
  SQLITE_READONLY: { code: EX.noPerm, say: () => 'the database is read-only for this user' },
};

/** Error class names (from lower modules) whose message is already a sentence for the admin. */
const DATA_ERRORS = new Set(['AccountError', 'PinError', 'ImportError', 'ZodError', 'KeyParseError']);
const CONFIG_ERRORS = new Set(['ConfigError', 'MasterKeyError']);

/** The exit code and the sentence for any error that reaches the top of a command. */
export function describeFailure(error: unknown): { exitCode: number; message: string } {
  if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message };
  if (error instanceof UsageError) return { exitCode: EX.usage, message: error.message };
  const e = error as SystemError;
  if (e && typeof e === 'object') {
    if (CONFIG_ERRORS.has(e.name)) return { exitCode: EX.config, message: e.message };
    if (DATA_ERRORS.has(e.name) || DATA_ERRORS.has(e.constructor?.name)) {
      return { exitCode: /^no (user|message|alias) /.test(e.message) ? EX.noInput : EX.data, message: e.message };
    }
    if (e.code && ERRNO[e.code]) return { exitCode: ERRNO[e.code].code, message: ERRNO[e.code].say(e) };
    // PostgreSQL: 28xxx authentication, 3D000 no such database, 08xxx connection, 57P0x shutting down.
    if (typeof e.code === 'string' && /^(28|3D|08|57P0)/.test(e.code)) return { exitCode: e.code.startsWith('28') ? EX.noPerm : EX.unavailable, message: `the database refused: ${e.message}` };
    // A MailError carries its reply: 4xx is worth a retry, 5xx is not.
    const reply = (e as { reply?: string; code?: unknown }).reply;
    if (typeof reply === 'string') return { exitCode: reply.startsWith('4') ? EX.tempFail : EX.data, message: reply };
  }
  return { exitCode: EX.software, message: `internal error: ${(error as Error)?.message ?? String(error)} (please report it; SEALGATE_DEBUG=1 prints the stack)` };
}
