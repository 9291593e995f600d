import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/*
 * The DKIM peers of test/integration/21-auth run as shipped: opendkim-testmsg (libopendkim)
 * and dkimpy's dkimverify find keys through /etc/resolv.conf, which names no port. So each runs
 * in a mount namespace of its own where /etc/resolv.conf names the test DNS server on port 53
 * of a loopback address of ours; the machine's own resolv.conf is never touched.
 */

export const PEER_DNS_HOST = '127.0.53.21';

export interface PeerRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` with stdin `input` and the test DNS server as its only resolver. */
export function runWithTestDns(dir: string, command: string, args: string[], input: Buffer | string): PeerRun {
  const resolv = path.join(dir, 'resolv.conf');
  writeFileSync(resolv, `nameserver ${PEER_DNS_HOST}\noptions timeout:2 attempts:1\n`);
  const result = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, command, ...args], { input, timeout: 30_000 });
  return { status: result.status, stdout: result.stdout?.toString() ?? '', stderr: `${result.stderr?.toString() ?? ''}${result.error ? result.error.message : ''}` };
}

export function run(command: string, args: string[], input?: Buffer | string, cwd?: string): PeerRun {
  const result = spawnSync(command, args, { input, cwd, timeout: 30_000 });
  return { status: result.status, stdout: result.stdout?.toString() ?? '', stderr: `${result.stderr?.toString() ?? ''}${result.error ? result.error.message : ''}` };
}

/** The `p=` text of a key record file written by opendkim-genkey or dknewkey (quoted zone strings joined). */
export function recordOfKeyFile(file: string): string {
  const text = readFileSync(file, 'utf8');
  const quoted = [...text.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  return (quoted.length ? quoted.join('') : text).replace(/\s+/g, ' ').trim();
}

/** The data a recording server got, dot-stuffing undone (RFC 5321 §4.5.2). */
export function undotted(data: Buffer): Buffer {
  return Buffer.from(data.toString('latin1').replace(/^\.\./, '.').replace(/\r\n\.\./g, '\r\n.'), 'latin1');
}

/** The message with every DKIM-Signature field but the one whose `a=` is `algorithm` removed. */
export function keepSignature(message: Buffer, algorithm: string): Buffer {
  const text = message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end + 2);
  const fields = head.split(/\r\n(?![ \t])/).filter((f) => f.length);
  const kept = fields.filter((f) => !/^dkim-signature:/i.test(f) || new RegExp(`a=${algorithm}`).test(f.replace(/\s+/g, '')));
  return Buffer.from(`${kept.join('\r\n')}\r\n${text.slice(end + 2)}`, 'latin1');
}

/** The header fields of a message, unfolded (CRLF or LF line ends). */
function unfoldedFields(message: string): string[] {
  const head = message.split(/\r?\n\r?\n/)[0] ?? '';
  return head.split(/\r?\n(?![ \t])/).map((f) => f.replace(/\r?\n[ \t]+/g, ' '));
}

export interface AuthResult {
  method: string;
  result: string;
  /** Its properties (`header.a`, `smtp.mailfrom`…), quotes removed. */
  props: Record<string, string>;
}

/**
 * The results of the Authentication-Results field of `authservId` (RFC 8601 §2.2), comments
 * dropped: every method's result with its properties, in the order written. None: empty.
 */
export function authResultsOf(message: string, authservId: string): AuthResult[] {
  const field = unfoldedFields(message).find((f) => new RegExp(`^authentication-results:\\s*${authservId.replace(/\./g, '\\.')}\\s*;`, 'i').test(f));
  if (!field) return [];
  const value = field.replace(/\([^()]*\)/g, ' ');
  return value
    .split(';')
    .slice(1)
    .map((part) => part.trim().split(/\s+/))
    .filter((words) => words[0]?.includes('='))
    .map(([methodResult, ...rest]) => {
      const [method, result] = methodResult!.split('=') as [string, string];
      const props = Object.fromEntries(rest.filter((w) => w.includes('=')).map((w) => [w.slice(0, w.indexOf('=')).toLowerCase(), w.slice(w.indexOf('=') + 1).replace(/^"|"$/g, '')]));
      return { method: method.toLowerCase(), result: result.toLowerCase(), props };
    });
}

/** The tags of each DKIM-Signature field of a message (RFC 6376 §3.2), whitespace removed. */
export function dkimSignaturesOf(message: string): Record<string, string | undefined>[] {
  return unfoldedFields(message)
    .filter((f) => /^dkim-signature:/i.test(f))
    .map((f) => Object.fromEntries(f.slice(f.indexOf(':') + 1).split(';').map((t) => t.replace(/\s+/g, '')).filter((t) => t.includes('=')).map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)])));
}
