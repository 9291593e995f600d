import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

function decode(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new MasterKeyError(`${where} must hold 32 bytes in base64 (found ${key.length})`);
  return key;
}

/** The env variable wins over the file, so a key can come from a secret store. */
export function loadMasterKey(file: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  if (env.SEALGATE_MASTER_KEY) return decode(env.SEALGATE_MASTER_KEY, 'SEALGATE_MASTER_KEY');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new MasterKeyError(`no master key at ${file}: run \`sealgate init\` or set SEALGATE_MASTER_KEY`);
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new MasterKeyError(`master key ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  return decode(text, file);
}

/** Creates the key file (0600, exclusive); refuses to overwrite an existing key. */
export function createMasterKey(file: string): Buffer {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new MasterKeyError(`master key ${file} exists already; not overwriting it`);
    throw error;
  }
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return key;
}
