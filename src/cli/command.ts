/**
 * A subcommand: its words (`queue delete`), its usage line, its own options and --help, and
 * what it runs. run.ts finds the command from the words, parses its options strictly and
 * runs it; a usage error prints that command's usage, not the whole list.
 */
import type { Config, ConfigSource } from '../config/index.ts';
import type { Logger } from '../kernel/index.ts';

/** What the composition root hands the CLI (the CLI never picks a store itself). */
export interface CliDeps {
  startGateway(config: Config): Promise<{ listeners: { name: string; host: string; port: number; tls: string }[]; stop(reason?: { signal?: NodeJS.Signals }): Promise<void>; release(): Promise<number> }>;
  openRuntime(config: Config, logger?: Logger): Promise<{
    queue: import('../queue/index.ts').Queue;
    users: import('../accounts/index.ts').Users;
    store: import('../store/index.ts').Store;
    audit: import('../audit/index.ts').AuditLog;
    receiptSigner: import('../audit/index.ts').ReceiptSigner;
    vault: import('../vault/index.ts').Vault;
    logger: Logger;
    close(): Promise<void>;
  }>;
  initDataDir(config: Config): { createdKey: boolean; keyFile: string } | Promise<{ createdKey: boolean; keyFile: string }>;
  createLogger(config: Config, destination?: 1 | 2): Logger;
  /** Runs the retention purge now (main.ts's runPurge); `actor` is who asked, for the audit. */
  purge?(config: Config, actor: string): Promise<{ finishedMessages: number; receipts: number; pickups: number; auditEvents: number; tlsReportsBefore: string }>;
  /** The HIPAA safeguards report of the installation (compliance-facts.ts). */
  compliance?(config: Config): Promise<import('../kernel/index.ts').ComplianceReport>;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder shown in the help: `--domain D`. */
  value?: string;
  help: string;
}

export interface CommandContext {
  config: Config;
  source: ConfigSource;
  deps: CliDeps;
  /** Positional arguments after the command's words. */
  args: string[];
  options: Record<string, string | boolean | undefined>;
  /** --json was given (only on commands that declare `json`). */
  json: boolean;
}

export interface Command {
  /** The words that name it: `queue delete`. */
  name: string;
  /** What follows the words in the usage line: `ID… | --domain D | --sender S | --all --yes`. */
  usage?: string;
  summary: string;
  /** More lines for `--help`. */
  details?: string[];
  options?: Record<string, OptionSpec>;
  /** Takes --json: prints one JSON document on stdout and nothing else. */
  json?: boolean;
  /** How many positional arguments it takes. */
  args?: { min?: number; max?: number };
  run(ctx: CommandContext): Promise<number>;
}

export function usageLine(command: Command): string {
  return `sealgate ${command.name}${command.usage ? ` ${command.usage}` : ''}${command.json ? ' [--json]' : ''}`;
}

/** `sealgate queue delete --help`. */
export function commandHelp(command: Command): string {
  const lines = [`usage: ${usageLine(command)}`, '', `  ${command.summary}`];
  if (command.details?.length) lines.push('', ...command.details.map((d) => `  ${d}`));
  const options: [string, string][] = Object.entries(command.options ?? {}).map(([name, spec]) => [`--${name}${spec.value ? ` ${spec.value}` : ''}${spec.short ? `, -${spec.short}` : ''}`, spec.help]);
  if (command.json) options.push(['--json', 'print one JSON document on stdout and nothing else']);
  options.push(['--config FILE, -c', 'the configuration (default: $SEALGATE_CONFIG, /etc/sealgate/sealgate.json, ./sealgate.json)']);
  options.push(['--help, -h', 'this help']);
  const width = Math.max(...options.map(([flag]) => flag.length));
  lines.push('', 'options:', ...options.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`));
  return lines.join('\n');
}

/** One line per command, the summary beside it, or under it when the usage is long. */
export function commandTable(commands: Command[]): string[] {
  const WIDTH = 36;
  const lines: string[] = [];
  for (const c of commands) {
    const left = usageLine(c).slice('sealgate '.length);
    if (left.length <= WIDTH) lines.push(`  ${left.padEnd(WIDTH)}  ${c.summary}`);
    else lines.push(`  ${left}`, `  ${''.padEnd(WIDTH)}  ${c.summary}`);
  }
  return lines;
}

/** `sealgate queue --help` (or `sealgate queue`): the commands of a group. */
export function groupHelp(group: string, commands: Command[]): string {
  const members = commands.filter((c) => c.name === group || c.name.startsWith(`${group} `));
  return [`usage: sealgate ${group} <command> …`, '', ...commandTable(members), '', `sealgate ${group} <command> --help shows the options of one command.`].join('\n');
}
