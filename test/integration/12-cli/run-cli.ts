import { execFile } from 'node:child_process';
import path from 'node:path';

export const SEALGATE = path.resolve(import.meta.dirname, '../../../bin/sealgate.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `sealgate` command (bin/sealgate.js) as a child process in `cwd`, with only
 * the environment given (plus PATH/HOME): no SEALGATE_* of the test runner leaks in.
 */
export function sealgate(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SEALGATE, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env }, timeout: 240_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
