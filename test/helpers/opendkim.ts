import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from './ports.ts';

export interface OpenDkimMilter {
  port: number;
  /** The milter as Postfix's smtpd_milters names it. */
  milter: string;
  /** What the daemon wrote (the last 2,000 characters). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The OpenDKIM filter (Debian's /usr/sbin/opendkim) in the foreground as a milter on a free
 * loopback port, with `settings` as its opendkim.conf(5) (written to DIR/NAME.conf). Syslog is
 * off, so what it says is in output().
 */
export async function startOpenDkim(dir: string, name: string, settings: Record<string, string>): Promise<OpenDkimMilter> {
  const port = await freePort();
  const conf = path.join(dir, `${name}.conf`);
  const all = { Syslog: 'no', Socket: `inet:${port}@127.0.0.1`, PidFile: path.join(dir, `${name}.pid`), ...settings };
  writeFileSync(conf, `${Object.entries(all).map(([k, v]) => `${k} ${v}`).join('\n')}\n`);
  let output = '';
  const child: ChildProcess = spawn('opendkim', ['-f', '-x', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-2000));
  child.stderr!.on('data', keep);
  child.stdout!.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitForPort('127.0.0.1', port, 10_000, () => `opendkim ${name}: ${output}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, milter: `inet:127.0.0.1:${port}`, output: () => output, stop };
}

/**
 * A signer's KeyTable and SigningTable in DIR: every address of `domain` signed with the key
 * file under `selector`. The key sits under /tmp, which RequireSafeKeys refuses (a
 * world-writable parent): off, for a key that lives only as long as the run.
 */
export function signerSettings(dir: string, name: string, domain: string, selector: string, keyFile: string): Record<string, string> {
  const keyTable = path.join(dir, `${name}.keytable`);
  const signingTable = path.join(dir, `${name}.signingtable`);
  writeFileSync(keyTable, `${selector} ${domain}:${selector}:${keyFile}\n`);
  writeFileSync(signingTable, `*@${domain} ${selector}\n`);
  return { Mode: 's', RequireSafeKeys: 'false', KeyTable: keyTable, SigningTable: `refile:${signingTable}` };
}
