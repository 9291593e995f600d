/**
 * The `sealgate` command: finds the subcommand from the leading words, parses its own
 * options strictly, finds the configuration the way daemons do, says which one it used (one
 * line on stderr), runs the command and turns any failure into one sentence and a sysexits
 * code (exit.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, describeSource, findConfig, loadConfig, untrustedConfigReason } from '../config/index.ts';
import { QUEUE_ID_PATTERN } from '../queue/index.ts';
import { commandHelp, commandTable, groupHelp, usageLine, type CliDeps, type Command } from './command.ts';
import { analyzeCommands } from './analyze.ts';
import { auditCommands } from './audit.ts';
import { configCommands } from './config-check.ts';
import { domainCommands } from './domain.ts';
import { describeFailure, EX, UsageError } from './exit.ts';
import { note, out, stopQuietlyOnClosedPipe } from './output.ts';
import { keysCommands } from './keys.ts';
import { queueCommands } from './queue.ts';
import { receiptCommands } from './receipt.ts';
import { setupCommands } from './serve.ts';
import { tlsrptCommands } from './tlsrpt.ts';
import { userAliasCommands } from './user-alias.ts';
import { userCommands } from './user.ts';
import { userSecurityCommands } from './user-security.ts';
import { retentionCommands } from './retention.ts';
import { breakGlassCommands } from './break-glass.ts';
import { complianceCommands } from './compliance.ts';
import { backupCommands } from './backup.ts';

export const COMMANDS: Command[] = [...setupCommands, ...configCommands, ...userCommands, ...userSecurityCommands, ...userAliasCommands, ...queueCommands, ...receiptCommands, ...domainCommands, ...tlsrptCommands, ...auditCommands, ...retentionCommands, ...backupCommands, ...keysCommands, ...breakGlassCommands, ...complianceCommands, ...analyzeCommands];
/** Words that name a set of commands: `sealgate queue --help` lists them. */
const GROUPS = ['config', 'user', 'user alias', 'queue', 'domain', 'tlsrpt', 'audit', 'retention', 'backup', 'keys', 'break-glass'];

const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  return [
    'usage: sealgate <command> [options] [--config FILE]',
    '',
    ...commandTable(COMMANDS),
    '',
    'sealgate sop <verb> …: the Stateless OpenPGP CLI (no config needed; sealgate sop --help).',
    'sealgate <command> --help shows the options of one command; --json prints only JSON on stdout.',
    'Configuration: --config FILE, else $SEALGATE_CONFIG, else /etc/sealgate/sealgate.json, else',
    './sealgate.json, else the built-in defaults; then SEALGATE_* environment variables',
    '(SEALGATE_DELIVERY__PORT=2526 sets delivery.port). See docs/config.md.',
    'Exit codes (sysexits.h): 0 ok, 64 usage, 65 bad data, 66 not found, 69 unavailable,',
    '70 internal error, 73 cannot create, 74 I/O error, 75 try again, 77 no permission, 78 configuration.',
  ].join('\n');
}

/** The words before any option: `queue delete` in `queue delete --domain d.test`. */
function leadingWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 3; i++) {
    const token = argv[i];
    if (token === '--') break;
    if (token.startsWith('-')) {
      if (token === '--config' || token === '-c') i++;
      continue;
    }
    words.push(token);
  }
  return words;
}

function findCommand(words: string[]): Command | undefined {
  for (let n = Math.min(words.length, 3); n > 0; n--) {
    const name = words.slice(0, n).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return command;
  }
  return undefined;
}

/**
 * Queue IDs made before issue 10 may start with `-` (`-VWXU…`): on queue commands a token
 * of that exact shape is an ID, not options, as it would be after `--`.
 */
function idsAsPositionals(command: Command, argv: string[]): string[] {
  if (!command.name.startsWith('queue ')) return argv;
  const end = argv.indexOf('--');
  const before = end < 0 ? argv : argv.slice(0, end);
  const after = end < 0 ? [] : argv.slice(end + 1);
  const isOldId = (token: string) => token.startsWith('-') && !token.startsWith('--') && QUEUE_ID_PATTERN.test(token);
  if (!before.some(isOldId) && end < 0) return argv;
  return [...before.filter((t) => !isOldId(t)), '--', ...before.filter(isOldId), ...after];
}

function usageFailure(message: string, help: string): number {
  process.stderr.write(`sealgate: ${message}\n${help}\n`);
  return EX.usage;
}

export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  stopQuietlyOnClosedPipe();
  const beforeEnd = argv.indexOf('--') < 0 ? argv : argv.slice(0, argv.indexOf('--'));
  const wantsHelp = beforeEnd.includes('--help') || beforeEnd.includes('-h');
  const words = leadingWords(argv);
  const command = findCommand(words);
  if (!command) {
    const group = [...GROUPS].reverse().find((g) => words.slice(0, g.split(' ').length).join(' ') === g);
    if (group) {
      if (wantsHelp && words.length === group.split(' ').length) {
        out(groupHelp(group, COMMANDS));
        return EX.ok;
      }
      const next = words[group.split(' ').length];
      return usageFailure(next ? `unknown command "${group} ${next}"` : `${group} needs a command`, groupHelp(group, COMMANDS));
    }
    if (words.length === 0 && wantsHelp) {
      out(usage());
      return EX.ok;
    }
    return usageFailure(words.length ? `unknown command "${words[0]}"` : 'no command given', usage());
  }
  if (wantsHelp) {
    out(commandHelp(command));
    return EX.ok;
  }
  const seeHelp = `usage: ${usageLine(command)}\n(sealgate ${command.name} --help for more)`;
  const options: ParseArgsConfig['options'] = { ...GLOBAL_OPTIONS };
  for (const [name, spec] of Object.entries(command.options ?? {})) options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  if (command.json) options.json = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseArgs({ args: idsAsPositionals(command, argv), allowPositionals: true, options, strict: true });
  } catch (error) {
    return usageFailure((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''), seeHelp);
  }
  const depth = command.name.split(' ').length;
  const args = parsed.positionals.slice(depth);
  const { min = 0, max = Infinity } = command.args ?? {};
  if (args.length < min || args.length > max) {
    return usageFailure(args.length < min ? `${command.name} needs ${command.usage ?? 'more arguments'}` : `${command.name} takes ${max === 0 ? 'no arguments' : `at most ${max} argument(s)`}, not ${args.map((a) => JSON.stringify(a)).join(' ')}`, seeHelp);
  }
  try {
    const source = findConfig({ flag: parsed.values.config as string | undefined, env: process.env });
    const untrusted = untrustedConfigReason(source);
    if (untrusted) return fail(EX.config, untrusted);
    let config;
    try {
      config = loadConfig({ file: source.file ?? undefined, env: process.env });
    } catch (error) {
      if (error instanceof ConfigError) {
        const named = source.origin === '--config' || source.origin === 'SEALGATE_CONFIG' ? ` (named by ${source.origin})` : '';
        return fail(error.missing ? EX.noInput : EX.config, `${error.message}${named}`);
      }
      throw error;
    }
    note(describeSource(source, config.dataDir));
    return await command.run({ config, source, deps, args, options: parsed.values as Record<string, string | boolean | undefined>, json: parsed.values.json === true });
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message, seeHelp);
    const { exitCode, message } = describeFailure(error);
    if (exitCode === EX.software && process.env.SEALGATE_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return fail(exitCode, message);
  }
}

function fail(exitCode: number, message: string): number {
  note(message);
  return exitCode;
}
