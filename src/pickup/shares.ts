import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const ID = /^[A-Za-z0-9_-]{22}$/;
const SWEEP_BATCH = 500;

/**
 * The server shares of pickup messages, one small file each, kept OUT of the database: a
 * database copy (a backup, a stolen dump) then holds no share, so retraction and expiry —
 * which delete the file — make a message unreadable even from copies taken before
 * (docs/architecture.md §5, crypto-shredding). Each file is sealed by the vault master key. A cluster
 * points `pickup.shareDir` at storage every node mounts; keep it out of database backups.
 */
export class ShareFiles {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private fileOf(id: string): string {
    if (!ID.test(id)) throw new Error(`not a pickup message id: ${JSON.stringify(id)}`);
    return path.join(this.dir, id);
  }

  /** Written and fsynced (file and folder) before the message row commits. */
  async put(id: string, sealedShare: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = path.join(this.dir, `.${id}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(sealedShare);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.fileOf(id));
    const folder = await open(this.dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }

  async get(id: string): Promise<Buffer | null> {
    try {
      return await readFile(this.fileOf(id));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async has(id: string): Promise<boolean> {
    try {
      await access(this.fileOf(id));
      return true;
    } catch {
      return false;
    }
  }

  async destroy(id: string): Promise<void> {
    await rm(this.fileOf(id), { force: true });
  }

  /**
   * Shares whose message is no longer readable (a crash between the state change and the
   * delete). `withdrawn` gets the ids in batches and names those to remove.
   */
  async sweep(withdrawn: (ids: string[]) => Promise<string[]>): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    for (const name of names.filter((n) => n.startsWith('.') && n.endsWith('.tmp'))) await rm(path.join(this.dir, name), { force: true });
    const ids = names.filter((n) => ID.test(n));
    let removed = 0;
    for (let i = 0; i < ids.length; i += SWEEP_BATCH) {
      for (const id of await withdrawn(ids.slice(i, i + SWEEP_BATCH))) {
        await this.destroy(id);
        removed++;
      }
    }
    return removed;
  }
}
