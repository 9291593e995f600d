import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir, until, waitForPort } from './ports.ts';

const run = promisify(execFile);

export type PostfixMode = 'accept' | 'tempfail' | 'reject' | 'discard';

export interface PostfixOptions {
  ip: string;
  port: number;
  name: string;
  mode: PostfixMode;
  domains: string[];
  tls?: { certPath: string; keyPath: string };
  /** Extra main.cf settings (benchmarks use this to make a relay). */
  mainCf?: Record<string, string>;
}

export interface PostfixInstance {
  ip: string;
  port: number;
  dir: string;
  messages(): { path: string; raw: string }[];
  waitForMessages(count: number, timeoutMs?: number): Promise<{ path: string; raw: string }[]>;
  log(): string;
  setMode(mode: PostfixMode): Promise<void>;
  stop(): Promise<void>;
}

function uidOf(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no ${user} user: is Postfix installed?`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

const MASTER_SERVICES = `
cleanup   unix  n  -  n  -  0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
tlsmgr    unix  -  -  n  1000?  1  tlsmgr
rewrite   unix  -  -  n  -  -  trivial-rewrite
bounce    unix  -  -  n  -  0  bounce
defer     unix  -  -  n  -  0  bounce
trace     unix  -  -  n  -  0  bounce
verify    unix  -  -  n  -  1  verify
flush     unix  n  -  n  1000?  0  flush
proxymap  unix  -  -  n  -  -  proxymap
smtp      unix  -  -  n  -  -  smtp
relay     unix  -  -  n  -  -  smtp
showq     unix  n  -  n  -  -  showq
error     unix  -  -  n  -  -  error
retry     unix  -  -  n  -  -  error
discard   unix  -  -  n  -  -  discard
local     unix  -  n  n  -  -  local
virtual   unix  -  n  n  -  -  virtual
anvil     unix  -  -  n  -  1  anvil
scache    unix  -  -  n  -  1  scache
postlog   unix-dgram n  -  n  -  1  postlogd
`;

function restrictions(mode: PostfixMode): string {
  if (mode === 'tempfail') return 'check_recipient_access static:{450 4.2.0 Mailbox busy, try again later}';
  if (mode === 'reject') return 'check_recipient_access static:{550 5.1.1 No such user here}';
  return 'permit_mynetworks, reject_unauth_destination';
}

function mainCf(options: PostfixOptions, dir: string, mode: PostfixMode): string {
  const { uid, gid } = uidOf('postfix');
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: path.join(dir, 'queue'),
    data_directory: path.join(dir, 'data'),
    meta_directory: '/etc/postfix',
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: options.name,
    mydestination: '',
    // Postfix only accepts addresses of configured interfaces here; master.cf binds the IP.
    inet_interfaces: 'all',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    maillog_file: path.join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    alias_maps: '',
    alias_database: '',
    biff: 'no',
    smtpd_banner: '$myhostname ESMTP Postfix',
    virtual_mailbox_domains: options.domains.join(' '),
    virtual_mailbox_base: path.join(dir, 'mail'),
    virtual_mailbox_maps: 'static:mailbox/',
    virtual_uid_maps: `static:${uid}`,
    virtual_gid_maps: `static:${gid}`,
    virtual_minimum_uid: '1',
    virtual_mailbox_limit: '0',
    message_size_limit: '120000000',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    smtpd_recipient_restrictions: restrictions(mode),
    smtp_tls_security_level: 'may',
    import_environment: 'MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C',
  };
  if (mode === 'discard') settings.virtual_transport = 'discard:';
  if (options.tls) {
    Object.assign(settings, {
      smtpd_tls_security_level: 'may',
      smtpd_tls_cert_file: options.tls.certPath,
      smtpd_tls_key_file: options.tls.keyPath,
      smtpd_tls_received_header: 'yes',
      smtpd_tls_loglevel: '1',
    });
  } else {
    settings.smtpd_tls_security_level = 'none';
  }
  Object.assign(settings, options.mainCf ?? {});
  return `${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
}

/** The pid in the instance's master.pid (Postfix writes it space-padded), if any. */
function masterPid(dir: string): number | undefined {
  const file = path.join(dir, 'queue', 'pid', 'master.pid');
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A private Postfix instance bound to one loopback address: its own config, queue and
 * Maildir, started with `postfix -c DIR start` and stopped with `postfix -c DIR stop`.
 */
export async function startPostfix(options: PostfixOptions): Promise<PostfixInstance> {
  const temp = tempDir(`postfix-${options.name}`);
  const dir = temp.dir;
  chmodSync(dir, 0o755);
  const { uid, gid } = uidOf('postfix');
  for (const sub of ['conf', 'queue', 'data', 'mail']) mkdirSync(path.join(dir, sub), { recursive: true });
  chownSync(path.join(dir, 'data'), uid, gid);
  chownSync(path.join(dir, 'mail'), uid, gid);
  const conf = path.join(dir, 'conf');
  let mode = options.mode;
  writeFileSync(path.join(conf, 'main.cf'), mainCf(options, dir, mode));
  writeFileSync(path.join(conf, 'master.cf'), `${options.ip}:${options.port} inet n - n - - smtpd\n${MASTER_SERVICES}`);
  const postfix = (...args: string[]) => run('/usr/sbin/postfix', ['-c', conf, ...args], { env: { ...process.env, MAIL_CONFIG: conf } });
  const logText = () => (existsSync(path.join(dir, 'maillog')) ? readFileSync(path.join(dir, 'maillog'), 'utf8') : '');
  try {
    await postfix('set-permissions').catch(() => undefined);
    await postfix('start');
    await waitForPort(options.ip, options.port, 15_000, () => logText().slice(-2000));
  } catch (error) {
    await postfix('stop').catch(() => undefined);
    throw new Error(`Postfix ${options.name} on ${options.ip}:${options.port} did not start: ${(error as Error).message}\n${logText().slice(-2000)}`);
  }
  const mailbox = path.join(dir, 'mail', 'mailbox');
  const messages = () => {
    const found: { path: string; raw: string }[] = [];
    for (const sub of ['new', 'cur']) {
      const folder = path.join(mailbox, sub);
      if (!existsSync(folder)) continue;
      for (const name of readdirSync(folder).sort()) found.push({ path: path.join(folder, name), raw: readFileSync(path.join(folder, name), 'utf8') });
    }
    return found;
  };
  return {
    ip: options.ip,
    port: options.port,
    dir,
    messages,
    async waitForMessages(count, timeoutMs = 20_000) {
      await until(() => messages().length >= count, timeoutMs, `${count} message(s) in ${options.name}'s mailbox\n${logText().slice(-1500)}`);
      return messages();
    },
    log: logText,
    async setMode(next) {
      mode = next;
      writeFileSync(path.join(conf, 'main.cf'), mainCf(options, dir, mode));
      await postfix('reload');
      await new Promise((r) => setTimeout(r, 300));
    },
    async stop() {
      const master = masterPid(dir);
      await postfix('stop').catch(() => undefined);
      // master exits after its children; wait for it before removing its files. Its pid file
      // stays behind (waiting for the file to go cost the full 10 s at every stop).
      if (master) await until(() => !isRunning(master), 10_000, 'postfix master to exit').catch(() => undefined);
      temp.cleanup();
    },
  };
}

/** Postfix's smtp-sink: accepts and discards; prints a running count with -c. */
export async function startSmtpSink(options: { ip: string; port: number; backlog?: number }): Promise<{ stop(): Promise<void>; count(): number }> {
  const child: ChildProcess = spawn('/usr/sbin/smtp-sink', ['-u', 'root', '-c', `${options.ip}:${options.port}`, String(options.backlog ?? 256)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let count = 0;
  let tail = '';
  child.stdout!.on('data', (data: Buffer) => {
    tail = (tail + data.toString()).slice(-200);
    const match = /mesg=(\d+)(?!.*mesg=)/s.exec(tail);
    if (match) count = Number(match[1]);
  });
  await waitForPort(options.ip, options.port, 10_000);
  return {
    count: () => count,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
