/**
 * What a valid schema cannot see: files that are named but missing, and two listeners on one
 * address. `config check` fails on these (a gateway with them would not start or would
 * start wrong); each is a sentence naming the key.
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { Config } from './schema.ts';

function fileProblem(key: string, file: string | undefined): string | null {
  if (!file) return null;
  try {
    if (!statSync(file).isFile()) return `${key}: ${file} is not a file`;
    accessSync(file, constants.R_OK);
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `${key}: ${file} does not exist`;
    if (code === 'EACCES') return `${key}: ${file} is not readable by this user`;
    return `${key}: cannot read ${file} (${(error as Error).message})`;
  }
}

function pairProblem(prefix: string, cert: string | undefined, key: string | undefined): string | null {
  if (cert && !key) return `${prefix}.certFile is set without ${prefix}.keyFile: give both, or neither`;
  if (key && !cert) return `${prefix}.keyFile is set without ${prefix}.certFile: give both, or neither`;
  return null;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Listeners that would collide: same port and the same address (or a wildcard on either side). */
export function listenerClashes(config: Config): string[] {
  const open: { key: string; host: string; port: number }[] = [];
  for (const [name, listener] of Object.entries(config.listeners)) {
    if (listener.enabled) open.push({ key: `listeners.${name}`, host: listener.host, port: listener.port });
  }
  if (config.web.enabled) open.push({ key: 'web', host: config.web.host, port: config.web.port });
  const clashes: string[] = [];
  for (let i = 0; i < open.length; i++) {
    for (let j = i + 1; j < open.length; j++) {
      const [a, b] = [open[i], open[j]];
      // Port 0 asks the system for a free port: never the same twice.
      if (a.port === 0 || a.port !== b.port) continue;
      if (a.host === b.host || WILDCARD.has(a.host) || WILDCARD.has(b.host)) {
        clashes.push(`${a.key} and ${b.key} both listen on ${a.host === b.host ? a.host : `${a.host} / ${b.host}`}:${a.port}: give one of them another port`);
      }
    }
  }
  return clashes;
}

/** Every reason this configuration cannot run as written (empty: it can). */
export function configProblems(config: Config): string[] {
  const problems = [
    pairProblem('tls', config.tls.certFile, config.tls.keyFile),
    pairProblem('web', config.web.certFile, config.web.keyFile),
    fileProblem('tls.certFile', config.tls.certFile),
    fileProblem('tls.keyFile', config.tls.keyFile),
    fileProblem('web.certFile', config.web.certFile),
    fileProblem('web.keyFile', config.web.keyFile),
    ...config.delivery.extraCaFiles.map((file, i) => fileProblem(`delivery.extraCaFiles[${i}]`, file)),
  ].filter((p): p is string => p !== null);
  return [...problems, ...listenerClashes(config)];
}
