import { execFile } from 'node:child_process';

export interface SwaksResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs swaks (a real submission client); never throws on a non-zero exit. */
export function runSwaks(args: string[], options: { timeoutMs?: number } = {}): Promise<SwaksResult> {
  return new Promise((resolve) => {
    execFile('swaks', ['--timeout', '20', ...args], { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The server reply lines swaks printed (`<~ 250 …`, `<** 554 …`), in order. */
export function serverReplies(output: string): string[] {
  return output
    .split('\n')
    .map((line) => /^(?:<~\*?|<-|<\*\*)\s+(\d{3}.*)$/.exec(line)?.[1])
    .filter((line): line is string => Boolean(line));
}

/** Submission as alice@sender.test over STARTTLS + AUTH PLAIN, the way the scenarios send mail. */
export function submitAs(port: () => number, password: string, user = 'alice@sender.test') {
  return (to: string, extra: string[] = []): Promise<SwaksResult> =>
    runSwaks(['--server', `127.0.0.1:${port()}`, '-tls', '--auth', 'PLAIN', '--auth-user', user, '--auth-password', password, '--from', user, '--to', to, ...extra]);
}

/** The queue id in swaks's transcript of our `250 … queued as ID`. */
export const queuedId = (output: string): string => /queued as (\S+)/.exec(output)?.[1] ?? '';
