/** `sealgate serve` and `sealgate init`: the only commands that create a data dir and master key. */
import { storeUrl, type Config } from '../config/index.ts';
import { ensureSelfSignedCertificate } from '../vault/index.ts';
import { firstCredential } from './break-glass.ts';
import type { CliDeps, Command } from './command.ts';
import { EX, UsageError } from './exit.ts';
import { out } from './output.ts';

export async function serve(config: Config, deps: CliDeps): Promise<number> {
  // Taken before the start: the listeners open (and a supervisor may stop us) before the start
  // returns, and a signal then would end the process without the orderly stop.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
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
  const signal = await signalled;
  // A second signal, or the deadline passed with something still hanging: the leases go back
  // to the queue (nothing acknowledged is lost) and the process ends now.
  let forced = false;
  const force = async (why: string) => {
    if (forced) return;
    forced = true;
    process.stderr.write(`sealgate: ${why}; giving the in-flight deliveries back to the queue and exiting\n`);
    await gateway.release().catch(() => undefined);
    process.exit(0);
  };
  const again = () => void force('asked again to stop');
  process.on('SIGINT', again);
  process.on('SIGTERM', again);
  const backstop = setTimeout(() => void force('shutdown deadline passed'), config.shutdown.deadlineSeconds * 1000 + 5_000);
  backstop.unref();
  await gateway.stop({ signal });
  clearTimeout(backstop);
  // Everything is committed and closed: a handle some library left open (a socket a peer
  // never closed) must not keep a stopped gateway alive.
  setTimeout(() => process.exit(0), 1_000).unref();
  return 0;
}

/** `--workers N` over `serve.workers`, checked as the config key is. */
export function withWorkers(config: Config, flag: string | boolean | undefined): Config {
  if (typeof flag !== 'string') return config;
  const workers = flag === 'auto' ? 'auto' : /^[1-9][0-9]{0,2}$/.test(flag) && Number(flag) <= 256 ? Number(flag) : undefined;
  if (workers === undefined) throw new UsageError(`--workers ${JSON.stringify(flag)}: give a number from 1 to 256, or auto (one listener process per core)`);
  return { ...config, serve: { ...config.serve, workers } };
}

export const setupCommands: Command[] = [
  {
    name: 'serve',
    summary: 'start the gateway (creates the data dir, master key and certificate at first start)',
    details: ['Logs are pino JSON on stdout; the start banner and this command\'s notes go to stderr. Stop with SIGTERM or Ctrl-C: listeners close, in-flight deliveries get shutdown.deadlineSeconds to finish, then their leases go back to the queue; a second signal does that at once.', 'With more than one worker (the default: one per core), this process delivers, runs the scheduled jobs and the admin listener, and forks the listener workers that run the SMTP listeners and the portal on the shared ports; a worker that dies is forked again.'],
    options: { workers: { type: 'string', value: 'N', help: 'listener processes: a number from 1 to 256 or auto (one per core); overrides serve.workers. 1 runs everything in one process' } },
    args: { max: 0 },
    run: (ctx) => serve(withWorkers(ctx.config, ctx.options.workers), ctx.deps),
  },
  {
    name: 'init',
    summary: 'create the data dir, the master key (mode 0600), the emergency access credential and, unless one is configured, a self-signed certificate',
    args: { max: 0 },
    run: async ({ config, deps }) => {
      const result = await deps.initDataDir(config);
      out(result.createdKey ? `created master key ${result.keyFile} (mode 0600); back it up: without it the queue cannot be read` : `master key already present at ${result.keyFile}`);
      if (!config.tls.certFile) {
        const cert = await ensureSelfSignedCertificate(config.dataDir, config.hostname);
        out(cert.created ? `created a self-signed certificate for ${config.hostname} at ${cert.certFile}` : `certificate present at ${cert.certFile}`);
      }
      out((await firstCredential(config, deps)).join('\n'));
      return EX.ok;
    },
  },
];
