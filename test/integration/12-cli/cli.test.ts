/**
 * The `sealgate` command as a Postfix admin uses it (issue 10 items 13, 15–17), run as a real
 * child process in temp dirs: where it finds its configuration, that only init/serve create
 * a master key, --help per command, usage errors, sysexits codes, --json, EPIPE, config check.
 * `sealgate(…)` spawns bin/sealgate.js; `run(…)` runs the same runCli in this process (a Node
 * start costs over a second) where a check is about the command's logic: every group (init,
 * config, user, queue, domain, tlsrpt) keeps spawned runs here.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config/index.ts';
import { openRuntime } from '../../../src/runtime.ts';
import { silentLogger } from '../../helpers/silent-logger.ts';
import { tempDir } from '../../helpers/ports.ts';
import { sealgateInProcess as run } from '../../helpers/cli-in-process.ts';
import { sealgate, SEALGATE } from './run-cli.ts';

// Each check is a whole Node process; a loaded machine makes some take seconds.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const temp = tempDir('cli');
afterAll(() => temp.cleanup());

function fresh(name: string): string {
  const dir = path.join(temp.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Only the one line that names config and data dir, nothing else on stderr. */
function onlyTheConfigLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).toMatch(/^sealgate: (config |no config file).*, data dir \//);
}

describe('item 13: configuration found the way daemons find it, and no second installation', () => {
  it('a command without config or key fails with a sentence and 78, and creates nothing', async () => {
    const cwd = fresh('no-config');
    const cases = [['queue', 'list'], ['user', 'list', '--json'], ['domain', 'pins'], ['queue', 'show', 'AAAAAAAAAAAAAAAA']];
    // The first through the real process, the others in process (same discovery, cwd and env).
    const runs = await Promise.all(cases.map((args, i) => (i === 0 ? sealgate : run)(cwd, args)));
    for (const [i, args] of cases.entries()) {
      const run = runs[i];
      expect(run.code, args.join(' ')).toBe(78);
      expect(run.stderr).toContain(`no master key at ${path.join(cwd, 'data', 'master.key')}: run \`sealgate init\` or pass --config`);
      expect(run.stderr).toMatch(/no config file \(no --config, no SEALGATE_CONFIG, no \/etc\/sealgate\/sealgate\.json, no \.\/sealgate\.json\): built-in defaults, data dir /);
      expect(run.stdout).toBe('');
    }
    expect(existsSync(path.join(cwd, 'data', 'master.key'))).toBe(false);
    expect(existsSync(path.join(cwd, 'data'))).toBe(false);
  });

  it('reads ./sealgate.json, SEALGATE_CONFIG over it, --config over both; a named file that is missing is 66', async () => {
    const cwd = fresh('discovery');
    writeFileSync(path.join(cwd, 'sealgate.json'), JSON.stringify({ dataDir: 'local-data' }));
    writeFileSync(path.join(cwd, 'env.json'), JSON.stringify({ dataDir: 'env-data' }));
    writeFileSync(path.join(cwd, 'flag.json'), JSON.stringify({ dataDir: 'flag-data' }));
    const local = await run(cwd, ['init']);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toContain(`sealgate: config ${path.join(cwd, 'sealgate.json')}, data dir ${path.join(cwd, 'local-data')}`);
    expect(existsSync(path.join(cwd, 'local-data', 'master.key'))).toBe(true);
    const env = await run(cwd, ['config', 'check', '--json'], { SEALGATE_CONFIG: 'env.json' });
    expect(env.stderr).toContain(`config ${path.join(cwd, 'env.json')} (SEALGATE_CONFIG), data dir ${path.join(cwd, 'env-data')}`);
    const flag = await run(cwd, ['config', 'check', '--json', '--config', 'flag.json'], { SEALGATE_CONFIG: 'env.json' });
    expect(flag.stderr).toContain(`config ${path.join(cwd, 'flag.json')} (--config), data dir ${path.join(cwd, 'flag-data')}`);
    // The env/flag data dirs have no key: a listing there fails instead of starting over.
    const other = await run(cwd, ['queue', 'list'], { SEALGATE_CONFIG: 'env.json' });
    expect(other.code).toBe(78);
    expect(existsSync(path.join(cwd, 'env-data', 'master.key'))).toBe(false);
    const missing = await run(cwd, ['queue', 'list', '--config', 'nope.json']);
    expect(missing.code).toBe(66);
    expect(missing.stderr).toBe(`sealgate: config file ${path.join(cwd, 'nope.json')} does not exist (named by --config)\n`);
  });
});

/** One of each kind (src/cli/index.test.ts checks the help of every command in the table). */
const EVERY_COMMAND = ['serve', 'init', 'config check', 'user add', 'user alias add', 'queue list', 'queue delete', 'queue hold', 'domain pin', 'tlsrpt send'];

/** Runs at most `n` at a time: each is a whole Node process. */
async function limited<T>(items: T[], n: number, work: (item: T, index: number) => Promise<unknown>): Promise<unknown[]> {
  const results: unknown[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i], i);
    }
  }));
  return results;
}

describe('item 16: help, usage errors, exit codes', () => {
  it('each subcommand has its own --help (exit 0, on stdout), and each group lists its commands', async () => {
    const cwd = fresh('help');
    const runs = (await limited(EVERY_COMMAND, 4, (name) => run(cwd, [...name.split(' '), '--help']))) as Awaited<ReturnType<typeof sealgate>>[];
    runs.forEach((run, i) => {
      expect(run.code, EVERY_COMMAND[i]).toBe(0);
      expect(run.stdout.startsWith(`usage: sealgate ${EVERY_COMMAND[i]}`), `${EVERY_COMMAND[i]}: ${run.stdout}`).toBe(true);
      expect(run.stdout).toContain('--help');
      expect(run.stderr).toBe('');
    });
    expect(runs[EVERY_COMMAND.indexOf('queue delete')].stdout).toMatch(/--domain D[\s\S]*--sender S[\s\S]*--all[\s\S]*--yes/);
    for (const group of ['queue', 'user alias']) {
      const run = await sealgate(cwd, [...group.split(' '), '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^usage: sealgate ${group} <command>`));
      for (const name of EVERY_COMMAND.filter((n) => n.startsWith(`${group} `))) expect(run.stdout).toContain(`  ${name}`);
    }
    expect(existsSync(path.join(cwd, 'data'))).toBe(false);
  });

  it("a usage error prints that command's usage, not the whole list, and exits 64", async () => {
    const cwd = fresh('usage');
    const cases: [string[], RegExp][] = [
      [['queue', 'show'], /^sealgate: queue show needs ID\nusage: sealgate queue show ID \[--json\]\n/],
      [['queue', 'list', '--bogus'], /^sealgate: Unknown option '--bogus'\nusage: sealgate queue list \[--all\] \[--json\]\n/],
      [['user', 'add'], /^sealgate: user add needs NAME/],
      [['queue', 'delete'], /needs message IDs, or one of --domain D, --sender S or --all\nusage: sealgate queue delete /],
      [['queue', 'frobnicate'], /^sealgate: unknown command "queue frobnicate"\nusage: sealgate queue <command>/],
      [['queue'], /^sealgate: queue needs a command\nusage: sealgate queue <command>/],
      [['user', 'list', '--json', 'extra'], /^sealgate: user list takes no arguments, not "extra"/],
      [['bogus'], /^sealgate: unknown command "bogus"\nusage: sealgate <command>/],
    ];
    const runs = (await limited(cases, 4, ([args], i) => (i === 0 ? sealgate(cwd, args) : run(cwd, args)))) as Awaited<ReturnType<typeof sealgate>>[];
    for (const [i, [args, expected]] of cases.entries()) {
      const run = runs[i];
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(64);
      expect(run.stderr, args.join(' ')).toMatch(expected);
      if (args[0] === 'queue' || args[0] === 'user') expect(run.stderr, args.join(' ')).not.toContain('domain import');
      expect(run.stdout).toBe('');
    }
  });

  it('no stack trace when the reader goes away (`| head -1`, `| true`): exits quietly', async () => {
    const cwd = fresh('epipe');
    const bash = promisify(execFile);
    for (const pipeline of [`"${process.execPath}" "${SEALGATE}" --help | true`, `"${process.execPath}" "${SEALGATE}" config check --json | (exec 0<&-; sleep 1)`]) {
      const { stderr } = await bash('bash', ['-c', `${pipeline}; echo "exit=\${PIPESTATUS[0]}" >&2`], { cwd, env: { PATH: process.env.PATH ?? '' } });
      expect(stderr, pipeline).not.toMatch(/EPIPE|node:events|\n\s+at /);
      expect(stderr, pipeline).toMatch(/exit=0\n$/);
    }
  });
});

describe('with an installation', () => {
  const cwd = path.join(temp.dir, 'site');
  let seededId = '';
  const OLD_ID = '-VWXUoldstyle_id';

  beforeAll(async () => {
    mkdirSync(cwd, { recursive: true });
    writeFileSync(path.join(cwd, 'sealgate.json'), JSON.stringify({ dataDir: 'data', log: { level: 'silent' } }));
    expect((await sealgate(cwd, ['init'])).code).toBe(0);
    // Mail in the queue, as ingress would have left it (the real Queue on the same store).
    const config = loadConfig({ file: path.join(cwd, 'sealgate.json') });
    const runtime = await openRuntime(config, silentLogger);
    const envelope = { mailFrom: 'alice@sender.test', requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' as const };
    for (let i = 0; i < 5; i++) {
      const { id } = await runtime.queue.enqueue({ ...envelope, recipients: [{ address: `r${i}@a.test` }, { address: `s${i}@b.test` }] }, Readable.from([Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`)]));
      seededId ||= id;
    }
    const { id: old } = await runtime.queue.enqueue({ ...envelope, mailFrom: 'old@sender.test', recipients: [{ address: 'x@c.test' }] }, Readable.from([Buffer.from('x\r\n')]));
    await runtime.close();
    // A message queued before issue 10, whose base64url id starts with "-".
    const db = new Database(path.join(cwd, 'data', 'sealgate.db'));
    db.pragma('foreign_keys = OFF');
    db.prepare('update messages set id = ? where id = ?').run(OLD_ID, old);
    db.prepare('update recipients set message_id = ? where message_id = ?').run(OLD_ID, old);
    db.close();
  }, 120_000);

  it('--json on every listing prints only JSON on stdout; the config line goes to stderr', async () => {
    const listings = [['queue', 'list'], ['queue', 'show', seededId], ['queue', 'verify'], ['user', 'list'], ['user', 'alias', 'list', 'nobody@x.test'], ['domain', 'show'], ['domain', 'pins'], ['domain', 'export'], ['tlsrpt'], ['config', 'check', '--changed']];
    const runs = (await limited(listings, 4, (args) => (args[0] === 'tlsrpt' || args[1] === 'list' ? sealgate : run)(cwd, [...args, ...(args[1] === 'export' ? [] : ['--json'])]))) as Awaited<ReturnType<typeof sealgate>>[];
    for (const [i, args] of listings.entries()) {
      const run = runs[i];
      // verify finds the body of the renamed old-id message unreadable (its key file kept the new id): 65, still JSON.
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(args[1] === 'verify' ? 65 : 0);
      expect(() => JSON.parse(run.stdout), args.join(' ')).not.toThrow();
      onlyTheConfigLine(run.stderr);
    }
    expect(JSON.parse(runs[2].stdout)).toEqual({ damaged: [OLD_ID] });
    const list = JSON.parse(runs[0].stdout) as { id: string }[];
    expect(list).toHaveLength(6);
    expect(list.filter((m) => m.id !== OLD_ID).every((m) => /^[A-Za-z0-9]{16}$/.test(m.id))).toBe(true);
    expect(JSON.parse(runs[9].stdout)).toEqual({ valid: true, problems: [], warnings: [], config: { log: { level: 'silent' } } });
  });

  it('an old id with a leading "-" is addressable as it is and after --', async () => {
    const bare = await run(cwd, ['queue', 'show', OLD_ID]);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toContain(`message   ${OLD_ID}`);
    const afterDashes = await run(cwd, ['queue', 'show', '--json', '--', OLD_ID]);
    expect(afterDashes.code, afterDashes.stderr).toBe(0);
    expect((JSON.parse(afterDashes.stdout) as { id: string }).id).toBe(OLD_ID);
    expect((await run(cwd, ['queue', 'hold', '--', OLD_ID])).stdout).toBe('held 1 recipient(s)\n');
    expect((await run(cwd, ['queue', 'release', OLD_ID])).stdout).toMatch(/^released 1 recipient/);
    const deleted = await run(cwd, ['queue', 'delete', OLD_ID]);
    expect(deleted.stdout).toBe('deleted 1 message(s)\n');
    expect((await run(cwd, ['queue', 'show', OLD_ID])).code).toBe(66);
  });

  it('queue list ends with a totals line; hold, delete by domain/sender, --all needs --yes', async () => {
    const text = await run(cwd, ['queue', 'list']);
    expect(text.stdout.trim().split('\n').at(-1)).toMatch(/^-- \d+ bytes in 5 messages, 10 waiting recipient\(s\)$/);
    expect((await run(cwd, ['queue', 'hold', '--domain', 'b.test'])).stdout).toBe('held 5 recipient(s)\n');
    expect((await run(cwd, ['queue', 'list'])).stdout.trim().split('\n').at(-1)).toMatch(/in 5 messages, 5 waiting, 5 held recipient\(s\)$/);
    expect((await run(cwd, ['queue', 'show', seededId])).stdout).toMatch(/held\s+<s\d+@b\.test>/);
    const del = await run(cwd, ['queue', 'delete', '--domain', 'a.test']);
    expect(del.stdout).toBe('deleted 5 recipient(s) of domain a.test; 0 message(s) left the queue\n');
    const noYes = await run(cwd, ['queue', 'delete', '--all']);
    expect(noYes.code).toBe(64);
    expect(noYes.stderr).toContain('add --yes to confirm');
    expect((await run(cwd, ['queue', 'delete', '--sender', 'nobody@sender.test'])).stdout).toMatch(/^deleted 0 recipient/);
    expect((await run(cwd, ['queue', 'delete', '--sender', 'ALICE@sender.test', '--yes'])).stdout).toBe('deleted 5 recipient(s) of sender <ALICE@sender.test>; 5 message(s) left the queue\n');
    expect((await run(cwd, ['queue', 'list'])).stdout).toBe('-- queue is empty\n');
  });

  it('exit codes and sentences: not found 66, bad data 65, missing file 66 without raw ENOENT', async () => {
    const cases: [string[], number, string][] = [
      [['queue', 'show', 'AAAAAAAAAAAAAAAA'], 66, 'no message AAAAAAAAAAAAAAAA in the queue'],
      [['queue', 'retry', 'AAAAAAAAAAAAAAAA'], 66, 'no message AAAAAAAAAAAAAAAA in the queue'],
      [['user', 'remove', 'nobody@x.test'], 66, 'no user nobody@x.test'],
      [['user', 'require', 'nobody@x.test', 'tls'], 66, 'no user nobody@x.test'],
      [['user', 'require', 'nobody@x.test', 'sometimes'], 65, 'unknown link level "sometimes"'],
      [['domain', 'import', path.join(cwd, 'missing.json')], 66, `${path.join(cwd, 'missing.json')} does not exist`],
      [['domain', 'pin', 'x.test', 'strong'], 65, 'unknown link level "strong"'],
      [['tlsrpt', '--day', 'yesterday'], 64, '--day takes a date as YYYY-MM-DD'],
    ];
    const runs = (await limited(cases, 4, ([args]) => run(cwd, args))) as Awaited<ReturnType<typeof sealgate>>[];
    for (const [i, [args, code, sentence]] of cases.entries()) {
      const run = runs[i];
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(code);
      expect(run.stderr).toContain(sentence);
      expect(run.stderr).not.toMatch(/ENOENT|\n\s+at |Error:/);
    }
  });

  it('user add then list in text and JSON', async () => {
    expect((await run(cwd, ['user', 'add', 'alice@sender.test', '--password', 'a long enough password'])).code).toBe(0);
    const list = await run(cwd, ['user', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { username: string }[]).map((u) => u.username)).toEqual(['alice@sender.test']);
  });
});

describe('item 17: config check', () => {
  const cwd = path.join(temp.dir, 'check');
  const check = (config: Record<string, unknown>, args: string[] = [], env: Record<string, string> = {}, spawned = false) => {
    mkdirSync(cwd, { recursive: true });
    writeFileSync(path.join(cwd, 'sealgate.json'), JSON.stringify(config));
    return (spawned ? sealgate : run)(cwd, ['config', 'check', ...args], env);
  };

  it('fails (78) on missing certificate and key files, listener clashes with the web port, and an http:// public URL', async () => {
    const files = await check({ tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' }, web: { port: 2525 } }, [], {}, true);
    expect(files.code).toBe(78);
    expect(files.stderr).toContain('sealgate: tls.certFile: /nonexistent/cert.pem does not exist');
    expect(files.stderr).toContain('sealgate: tls.keyFile: /nonexistent/key.pem does not exist');
    expect(files.stderr).toContain('sealgate: listeners.inbound and web both listen on 127.0.0.1:2525: give one of them another port');
    const url = await check({ web: { publicUrl: 'http://portal.clinic.test' } });
    expect(url.code).toBe(78);
    expect(url.stderr).toContain('web.publicUrl: must be https: http://portal.clinic.test');
    expect(url.stderr).not.toMatch(/Invalid|expected/);
  });

  it('names the environment variable a bad value came from, in words', async () => {
    const run = await check({}, [], { SEALGATE_DELIVERY__PORT: 'abc' });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain('SEALGATE_DELIVERY__PORT=abc: delivery.port must be a number, not the text "abc"');
    const typo = await check({ limits: { maxMesageBytes: 1 } });
    expect(typo.stderr).toContain('limits: unknown key "maxMesageBytes" (did you mean "maxMessageBytes"?)');
  });

  it('warns, without failing, about a smarthost hop that does not require TLS; --changed shows only what differs', async () => {
    const config = { hostname: 'mx.clinic.test', domains: { 'clinic.test': { smarthost: '127.0.0.1:10025' } } };
    const run = await check(config);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/sealgate: warning: domains\["clinic\.test"\]\.smarthost 127\.0\.0\.1:10025 does not require TLS/);
    const changed = await check(config, ['--changed']);
    expect(changed.stdout).toBe('hostname = mx.clinic.test\ndomains.clinic.test.smarthost = 127.0.0.1:10025\n');
    const quiet = await check({ ...config, delivery: { tlsPolicies: { 'clinic.test': 'verified' } } }, ['--changed']);
    expect(quiet.stderr).not.toContain('warning');
    expect(quiet.stdout).toContain('delivery.tlsPolicies.clinic.test = verified');
  });
});
