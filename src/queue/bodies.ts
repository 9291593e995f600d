/**
 * Bodies at rest: each encrypted under its own data key (sealed by the master key), kept in
 * the row when small, spilled to the blob store when large; the key destroyed when the
 * message is done (crypto-shredding). The sender's pickup secret in the envelope row is
 * sealed under the same body key, so it is shredded with the body.
 */
import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { dataChunks } from '../kernel/index.ts';
import { createVault, VaultIntegrityError, type Vault } from '../vault/index.ts';
import type { QueueContext } from './context.ts';
import type { StoredEnvelope } from './types.ts';

/** Marks a pickup secret in the envelope row sealed under the body key (not the master key). */
const BODY_SEALED = 'body:';

/** Encrypted bodies up to this size are stored in the row, larger ones as files. */
const INLINE_MAX = 256 * 1024;

/** Keeps a small encrypted body in memory for the row; spills a large one to a file. */
export async function storeBody(ctx: QueueContext, id: string, encrypted: Readable): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let length = 0;
  let spill: PassThrough | null = null;
  let writing: Promise<number> | null = null;
  try {
    // Chunk by chunk as pushed: `for await` on the stream itself reads what is buffered
    // joined into one new buffer, a copy of the body (issue 14).
    for await (const chunk of dataChunks(encrypted)) {
      if (spill) {
        if (!spill.write(chunk)) await once(spill, 'drain');
        continue;
      }
      parts.push(chunk);
      length += chunk.length;
      if (length > INLINE_MAX) {
        spill = new PassThrough();
        writing = ctx.blobs.write(id, spill);
        for (const part of parts.splice(0)) spill.write(part);
      }
    }
    // Closed without its end and without an error: cut off, never a whole body.
    if (!encrypted.readableEnded) throw encrypted.errored ?? new Error('the body stream closed before its end');
  } catch (error) {
    spill?.destroy(error as Error);
    await writing?.catch(() => undefined);
    throw error;
  }
  if (!spill) return Buffer.concat(parts);
  spill.end();
  await writing;
  return null;
}

/** Decrypted body stream; errors with VaultIntegrityError if the stored object is damaged. */
export async function openBody(ctx: QueueContext, messageId: string, storedBody?: Buffer | null): Promise<Readable> {
  const { vault, ownKey } = await bodyVault(ctx, messageId);
  const row = storedBody ? null : await ctx.store.db.selectFrom('messages').select(['body', 'blob']).where('id', '=', messageId).executeTakeFirst();
  const body = storedBody ?? (row?.body ? Buffer.from(row.body) : null);
  const plain = vault.decrypt(body ? Readable.from([body]) : ctx.blobs.read(messageId));
  // Without a key of its own the body opens only if it was queued before 0016; say so when
  // not, rather than "wrong master key or damaged file" (test/attacks/i14-33).
  if (!ownKey) {
    plain.once('error', (error) => {
      if (error instanceof VaultIntegrityError) error.message = `the body key of message ${messageId} is missing, so its body cannot be opened (${error.message})`;
    });
  }
  return plain;
}

/** The body's own key; bodies queued before keys existed (0016) were sealed under the master key. */
async function bodyVault(ctx: QueueContext, messageId: string): Promise<{ vault: Vault; ownKey: boolean }> {
  const sealed = await ctx.keys.get(messageId);
  if (!sealed) return { vault: ctx.vault, ownKey: false };
  try {
    return { vault: createVault(ctx.vault.open(sealed)), ownKey: true };
  } catch (error) {
    if (!(error instanceof VaultIntegrityError)) throw error;
    throw new VaultIntegrityError(`the body key of message ${messageId} is damaged, so its body cannot be opened (${error.message})`);
  }
}

/**
 * Destroys the body's key: from now on no copy of the body, anywhere, opens. The old page
 * images of its ciphertext may stay in the WAL until a checkpoint; without the key they are
 * noise, so only a body sealed under the master key (queued before 0016, no key of its own)
 * asks for the checkpoint that scrubs them (a TRUNCATE checkpoint per 200 ms cost the relay
 * a database fsync five times a second, issue 14).
 */
export async function shred(ctx: QueueContext, messageId: string): Promise<void> {
  if (!(await ctx.keys.destroy(messageId))) ctx.store.scrub?.();
}

/**
 * The sender's pickup passphrase or answer rides in the envelope row, which outlives the
 * body: in the row it is sealed under the body key, so it is shredded with the body (issue 9
 * item 8). It arrives and leaves the queue sealed by the master key, as ingress sealed it.
 */
export function sealControlsForRow<T extends StoredEnvelope>(ctx: QueueContext, envelope: T, bodyVault: Vault): T {
  const sealed = envelope.pickupControl?.sealedSecret;
  if (!sealed) return envelope;
  const secret = ctx.vault.open(Buffer.from(sealed, 'base64'));
  return { ...envelope, pickupControl: { ...envelope.pickupControl, sealedSecret: `${BODY_SEALED}${bodyVault.seal(secret).toString('base64')}` } };
}

export async function openControlsOfRow(ctx: QueueContext, messageId: string, envelope: StoredEnvelope): Promise<StoredEnvelope> {
  const sealed = envelope.pickupControl?.sealedSecret;
  if (!sealed?.startsWith(BODY_SEALED)) return envelope;
  const keySealed = await ctx.keys.get(messageId);
  if (!keySealed) return { ...envelope, pickupControl: { ...envelope.pickupControl, sealedSecret: undefined } };
  const secret = createVault(ctx.vault.open(keySealed)).open(Buffer.from(sealed.slice(BODY_SEALED.length), 'base64'));
  return { ...envelope, pickupControl: { ...envelope.pickupControl, sealedSecret: ctx.vault.seal(secret).toString('base64') } };
}
