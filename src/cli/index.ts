import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError, storeUrl, type Config } from '../config/index.ts';
import type { LinkRequirement, Logger } from '../kernel/index.ts';
import { ensureSelfSignedCertificate } from '../vault/index.ts';
import { domainCommand, tlsrptCommand } from './domain.ts';
import { userAliasCommand } from './user-alias.ts';
import { formatQueueList, formatQueueShow } from './format.ts';
import { noticeStates } from './pickup-notices.ts';

/** What the composition root hands the CLI (the CLI never picks a store itself). */
export interface CliDeps {
  startGateway(config: Config): Promise<{ listeners: { name: string; host: string; port: number; tls: string }[]; stop(reason?: { signal?: NodeJS.Signals }): Promise<void> }>;
  openRuntime(config: Config, logger?: Logger): Promise<{
    queue: import('../queue/index.ts').Queue;
    users: import('../accounts/index.ts').Users;
    store: import('../store/index.ts').Store;
    logger: Logger;
    close(): Promise<void>;
  }>;
  initDataDir(config: Config): { createdKey: boolean; keyFile: string };
  createLogger(config: Config, destination?: 1 | 2): Logger;
}

const USAGE = `usage: sealgate <command> [--config FILE]

  serve                       start the gateway (creates data dir, key and certificate at first start)
  init                        create the data dir, the master key (mode 0600) and, unless one is
                              configured, a self-signed certificate
  config check                validate the configuration and print it
  user add NAME [--password P]  add a submission user (a strong password is generated when none is given)
  user list | user remove NAME | user passwd NAME [--password P]
  user require NAME LEVEL     hold every message NAME submits to at least LEVEL (none to clear)
  user pickup NAME always|off every message NAME submits becomes a Secure Message Pickup (or not)
  user alias add|remove NAME ADDRESS|@DOMAIN  let NAME send as ADDRESS, or as any address of DOMAIN
  user alias list NAME        the addresses NAME may send as besides NAME itself
  queue list [--all]          messages in the queue (--all includes finished ones)
  queue show ID               envelope, recipients and delivery receipts of a message
  queue retry ID              make a message's pending recipients due now
  queue delete ID             remove a message from the queue
  queue verify                open every pending body; list any that cannot be decrypted
  domain check DOMAIN [--json]  connect to each MX of DOMAIN: STARTTLS, certificate, REQUIRETLS,
                              the link level it earns (recorded in the link-security memory)
  domain show [DOMAIN]        what the link-security memory holds
  domain export [DOMAIN]      the memory as JSON, to share with other sites
  domain import FILE [--force]  records from another site's export (validated; may raise a
                              level or add evidence, never lower one unless --force, audited)
  domain forget DOMAIN [MX]   drop what DOMAIN (or one MX) proved, so a weaker link is allowed
  domain pin DOMAIN LEVEL [--note TEXT]  hold mail to DOMAIN to at least LEVEL
                              (none, tls, tls-verified, dane); domain unpin DOMAIN; domain pins
  tlsrpt [--day YYYY-MM-DD] [--json]  the pending TLS-RPT (RFC 8460) reports (default: today)
  tlsrpt send [--day YYYY-MM-DD]      queue the reports of finished days (or of DAY) now

Configuration: a JSON file (--config), then SEALGATE_* environment variables
(SEALGATE_DELIVERY__PORT=2526 sets delivery.port). See docs/config.md.`;

export class UsageError extends Error {}

export function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        password: { type: 'string' },
        all: { type: 'boolean' },
        json: { type: 'boolean' },
        note: { type: 'string' },
        force: { type: 'boolean' },
        day: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`sealgate: ${(error as Error).message}\n${USAGE}\n`);
    return 64;
  }
  const { values, positionals } = parsed;
  const [command, sub, arg, arg2] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return command || values.help ? 0 : 64;
  }
  try {
    const config = loadConfig({ file: values.config ?? process.env.SEALGATE_CONFIG, env: process.env });
    switch (command) {
      case 'serve':
        return await serve(config, deps);
      case 'init': {
        const result = deps.initDataDir(config);
        out(result.createdKey ? `created master key ${result.keyFile} (mode 0600); back it up: without it the queue cannot be read` : `master key already present at ${result.keyFile}`);
        if (!config.tls.certFile) {
          const cert = await ensureSelfSignedCertificate(config.dataDir, config.hostname);
          out(cert.created ? `created a self-signed certificate for ${config.hostname} at ${cert.certFile}` : `certificate present at ${cert.certFile}`);
        }
        return 0;
      }
      case 'config':
        if (sub !== 'check') throw new UsageError('config: use `config check`');
        out(JSON.stringify(config, null, 2));
        out('configuration is valid');
        return 0;
      case 'user':
        if (sub === 'alias') return await userAliasCommand(config, deps, arg, arg2, positionals[4]);
        return await userCommand(config, deps, sub, arg, sub === 'require' || sub === 'pickup' ? arg2 : values.password);
      case 'queue':
        return await queueCommand(config, deps, sub, arg, values.all === true, values.json === true);
      case 'domain':
        return await domainCommand(config, deps, sub, arg, values.json === true, { level: arg2, note: values.note, force: values.force === true });
      case 'tlsrpt':
        return await tlsrptCommand(config, deps, sub, values.day, values.json === true);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sealgate: ${error.message}\n${USAGE}\n`);
      return 64;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`sealgate: ${error.message}\n`);
      return 78;
    }
    process.stderr.write(`sealgate: ${(error as Error).message}\n`);
    return 1;
  }
}

export async function withRuntime<T>(config: Config, deps: CliDeps, work: (rt: Awaited<ReturnType<CliDeps['openRuntime']>>) => Promise<T>): Promise<T> {
  deps.initDataDir(config);
  const runtime = await deps.openRuntime(config, deps.createLogger({ ...config, log: { level: 'warn' } }, 2));
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

async function userCommand(config: Config, deps: CliDeps, sub: string | undefined, name: string | undefined, password: string | undefined): Promise<number> {
  return withRuntime(config, deps, async ({ users }) => {
    switch (sub) {
      case 'add':
      case 'passwd': {
        if (!name) throw new UsageError(`user ${sub} needs a NAME`);
        const secret = password ?? process.env.SEALGATE_PASSWORD ?? randomBytes(18).toString('base64url');
        if (sub === 'add') await users.add(name, secret);
        else await users.setPassword(name, secret);
        out(`user ${name} ${sub === 'add' ? 'added' : 'password changed'}`);
        if (!password && !process.env.SEALGATE_PASSWORD) out(`password: ${secret}\n(shown once; it is stored only as an Argon2id hash)`);
        return 0;
      }
      case 'list': {
        const list = await users.list();
        out(list.length ? list.map((u) => `${u.username}${u.disabled ? '  (disabled)' : ''}${u.requiredLevel ? `  (requires ${u.requiredLevel})` : ''}${u.pickupAlways ? '  (always pickup)' : ''}`).join('\n') : 'no users yet: sealgate user add NAME');
        return 0;
      }
      case 'require': {
        if (!name || !password) throw new UsageError('user require needs NAME LEVEL (none, tls, tls-verified or dane)');
        await users.setRequirement(name, password as LinkRequirement);
        out(password === 'none' ? `user ${name}: no standing requirement` : `user ${name}: every message is held to at least ${password}`);
        return 0;
      }
      case 'pickup': {
        if (!name || (password !== 'always' && password !== 'off')) throw new UsageError('user pickup needs NAME always|off');
        await users.setPickupAlways(name, password === 'always');
        out(password === 'always' ? `user ${name}: every message becomes a Secure Message Pickup` : `user ${name}: messages go out as usual`);
        return 0;
      }
      case 'remove':
        if (!name) throw new UsageError('user remove needs a NAME');
        if (!(await users.remove(name))) {
          process.stderr.write(`sealgate: no user ${name}\n`);
          return 1;
        }
        out(`user ${name} removed`);
        return 0;
      default:
        throw new UsageError('user: use add, list, remove, passwd, require, pickup or alias');
    }
  });
}

async function queueCommand(config: Config, deps: CliDeps, sub: string | undefined, id: string | undefined, all: boolean, json: boolean): Promise<number> {
  return withRuntime(config, deps, async ({ queue }) => {
    switch (sub) {
      case 'list': {
        const list = await queue.list({ state: all ? undefined : 'active', limit: 500 });
        out(json ? JSON.stringify(list, null, 2) : formatQueueList(list, await noticeStates(queue, list)));
        return 0;
      }
      case 'show': {
        if (!id) throw new UsageError('queue show needs a message ID');
        const detail = await queue.show(id);
        if (!detail) {
          process.stderr.write(`sealgate: no message ${id} in the queue\n`);
          return 1;
        }
        out(json ? JSON.stringify(detail, null, 2) : formatQueueShow(detail, await noticeStates(queue, [detail])));
        return 0;
      }
      case 'retry': {
        if (!id) throw new UsageError('queue retry needs a message ID');
        const n = await queue.retryNow(id);
        out(n ? `${n} recipient(s) of ${id} are due now (a running gateway picks them up within a second)` : `nothing pending for ${id}`);
        return n ? 0 : 1;
      }
      case 'delete': {
        if (!id) throw new UsageError('queue delete needs a message ID');
        const removed = await queue.remove(id);
        out(removed ? `deleted ${id}` : `no message ${id}`);
        return removed ? 0 : 1;
      }
      case 'verify': {
        const damaged = await queue.verify();
        out(damaged.length ? `damaged: ${damaged.join(' ')}` : 'all pending bodies are readable');
        if (json) out(JSON.stringify({ damaged }));
        return damaged.length ? 1 : 0;
      }
      default:
        throw new UsageError('queue: use list, show, retry, delete or verify');
    }
  });
}

async function serve(config: Config, deps: CliDeps): Promise<number> {
  const gateway = await deps.startGateway(config);
  const width = Math.max(...gateway.listeners.map((l) => l.name.length));
  const cli = 'npm run sealgate --';
  const submission = gateway.listeners.find((l) => l.name === 'submission');
  const portal = gateway.listeners.find((l) => l.name === 'portal');
  process.stderr.write(
    [
      '',
      `Sealgate is running as ${config.hostname} (data in ${config.dataDir}, store ${storeUrl(config).replace(/\/\/[^@/]*@/, '//…@')})`,
      ...gateway.listeners.map((l) => `  ${l.name.padEnd(width)}  ${l.host}:${l.port}  (${l.tls})`),
      '',
      'Next:',
      `  1. add a user:        ${cli} user add alice@example.test`,
      `  2. send a message:    swaks --server ${submission?.host ?? '127.0.0.1'}:${submission?.port ?? 2587} -tls --auth-user alice@example.test --auth-password 'THE-PASSWORD' \\`,
      '                          --from alice@example.test --to someone@example.org',
      `  3. watch the queue:   ${cli} queue list   and   ${cli} queue show ID`,
      ...(portal
        ? [
            `  4. send it securely:  put ${config.pickup.subjectTag} in the subject: the recipient gets a link to the portal;`,
            `                        you follow it at https://${portal.host}:${portal.port}/console (same user and password)`,
          ]
        : []),
      `  5. check a domain:    ${cli} domain check example.org   (DNSSEC, DANE, MTA-STS, TLS, REQUIRETLS)`,
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await gateway.stop({ signal });
  return 0;
}
