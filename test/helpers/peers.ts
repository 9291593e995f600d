import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name} || test -x /usr/sbin/${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Names of peers (binaries, or 'root') that this machine lacks. */
export function missingPeers(names: string[]): string[] {
  return names.filter((name) => (name === 'root' ? !isRoot() : !hasBinary(name)));
}

/** `describe` when every peer is here; otherwise a skipped suite that says why. */
export function describeWithPeers(names: string[], title: string, fn: () => void): void {
  const missing = missingPeers(names);
  if (missing.length) {
    console.warn(`SKIP ${title}: missing ${missing.join(', ')} (run scripts/install-peers.sh as root)`);
    describe.skip(title, fn);
  } else {
    describe(title, fn);
  }
}
