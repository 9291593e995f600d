import { open } from 'node:fs/promises';

/** Flushes a file or directory to disk (a directory sync makes a rename or unlink durable). */
export async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
