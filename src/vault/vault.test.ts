import { randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createMasterKey, createVault, ensureSelfSignedCertificate, loadMasterKey, VaultIntegrityError } from './index.ts';

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

describe('vault', () => {
  const vault = createVault(randomBytes(32));

  it.each([0, 1, 65535, 65536, 65537, 300_000])('round-trips %i bytes in any chunking', async (length) => {
    const plain = randomBytes(length);
    const sealed = await collect(chunked(plain, 7777).pipe(vault.encryptStream()));
    expect(sealed.includes(plain.subarray(0, Math.min(64, length))) && length > 16).toBe(false);
    const opened = await collect(vault.decrypt(chunked(sealed, 1000)));
    expect(opened.equals(plain)).toBe(true);
  });

  it('encrypts the pieces as they come, without joining them into chunks first (a copy of every byte, issue 14)', async () => {
    const plain = randomBytes(300_000);
    const parts: Buffer[] = [];
    const sealing = chunked(plain, 7777).pipe(vault.encryptStream());
    // 'data' gives each piece as pushed (`for await` would join what is buffered).
    sealing.on('data', (part: Buffer) => parts.push(part));
    await once(sealing, 'end');
    // Joined, a 64 kB chunk's ciphertext came out in one piece.
    expect(Math.max(...parts.map((part) => part.length))).toBeLessThanOrEqual(7777);
    expect((await collect(vault.decrypt(Readable.from([Buffer.concat(parts)])))).equals(plain)).toBe(true);
  });

  it('decrypts the pieces as they are read, without joining a chunk first (a 64 kB read never lines up with a sealed chunk, issue 14)', async () => {
    const plain = randomBytes(300_000);
    const sealed = await collect(Readable.from([plain]).pipe(vault.encryptStream()));
    const parts: Buffer[] = [];
    const opening = vault.decrypt(chunked(sealed, 20_000));
    opening.on('data', (part: Buffer) => parts.push(part));
    await once(opening, 'end');
    // Joined, each 64 kB chunk came out in one piece.
    expect(Math.max(...parts.map((part) => part.length))).toBeLessThanOrEqual(20_000);
    expect(Buffer.concat(parts).equals(plain)).toBe(true);
  });

  it.each([1, 3, 5, 65_557])('decrypts when the sealed bytes arrive in pieces of %i bytes (lengths split across pieces)', async (piece) => {
    const plain = randomBytes(140_000);
    const sealed = await collect(Readable.from([plain]).pipe(vault.encryptStream()));
    expect((await collect(vault.decrypt(chunked(sealed, piece)))).equals(plain)).toBe(true);
  });

  it('detects a torn write (truncation at any chunk boundary or inside one)', async () => {
    const plain = randomBytes(200_000);
    const sealed = await collect(Readable.from([plain]).pipe(vault.encryptStream()));
    for (const cut of [sealed.length - 1, sealed.length - 17, 64 + 4 + 65536 + 16 + 4 + 100, 70]) {
      await expect(collect(vault.decrypt(Readable.from([sealed.subarray(0, cut)])))).rejects.toBeInstanceOf(VaultIntegrityError);
    }
  });

  it('detects a flipped bit and a wrong master key', async () => {
    const sealed = await collect(Readable.from([Buffer.from('secret body')]).pipe(vault.encryptStream()));
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20] ^= 1;
    await expect(collect(vault.decrypt(Readable.from([flipped])))).rejects.toThrow(/authentication/);
    await expect(collect(createVault(randomBytes(32)).decrypt(Readable.from([sealed])))).rejects.toThrow(/master key/);
  });

  it('raises a wrong-key error to the reader even when reading starts late (no unhandled error event)', async () => {
    const sealed = await collect(Readable.from([Buffer.from('secret body')]).pipe(vault.encryptStream()));
    const opened = createVault(randomBytes(32)).decrypt(Readable.from([sealed]));
    await new Promise((resolve) => setTimeout(resolve, 50)); // as the SMTP client does while it awaits 354
    await expect(collect(opened)).rejects.toThrow(/master key/);
  });

  it('seals small values', () => {
    const sealed = vault.seal(Buffer.from('share'));
    expect(vault.open(sealed).toString()).toBe('share');
    sealed[sealed.length - 1] ^= 1;
    expect(() => vault.open(sealed)).toThrow(VaultIntegrityError);
  });

  it('creates a 0600 master key once and refuses group-readable keys', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-key-'));
    const file = path.join(dir, 'master.key');
    const key = createMasterKey(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadMasterKey(file, {}).equals(key)).toBe(true);
    expect(() => createMasterKey(file)).toThrow(/exists/);
    const loose = path.join(dir, 'loose.key');
    writeFileSync(loose, key.toString('base64'), { mode: 0o644 });
    expect(() => loadMasterKey(loose, {})).toThrow(/chmod 600/);
    expect(loadMasterKey('/nonexistent', { SEALGATE_MASTER_KEY: key.toString('base64') }).equals(key)).toBe(true);
  });

  it('makes a self-signed certificate for the hostname once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-cert-'));
    const first = await ensureSelfSignedCertificate(dir, 'mx.example.test');
    expect(first.created).toBe(true);
    const cert = new X509Certificate(readFileSync(first.certFile));
    expect(cert.checkHost('mx.example.test')).toBe('mx.example.test');
    expect(statSync(first.keyFile).mode & 0o777).toBe(0o600);
    expect((await ensureSelfSignedCertificate(dir, 'mx.example.test')).created).toBe(false);
  });
});
