import { Readable } from 'node:stream';
import { dataChunks } from '../kernel/index.ts';
import { DecryptStream, EncryptStream, keyObject, openBuffer, sealBuffer, VaultIntegrityError } from './chunked.ts';

export { VaultIntegrityError, EncryptStream, DecryptStream, keyObject } from './chunked.ts';
export type { SecretKey } from './chunked.ts';
export { loadMasterKey, createMasterKey, MasterKeyError } from './master-key.ts';
export { ensureSelfSignedCertificate } from './self-signed.ts';

export interface Vault {
  encryptStream(): EncryptStream;
  decrypt(source: Readable): Readable;
  seal(plain: Buffer): Buffer;
  open(sealed: Buffer): Buffer;
}

export function createVault(rawMasterKey: Buffer): Vault {
  if (rawMasterKey.length !== 32) throw new Error('master key must be 32 bytes');
  const masterKey = keyObject(rawMasterKey);
  return {
    encryptStream: () => new EncryptStream(masterKey),
    decrypt(source) {
      // Decryption starts when the reader first reads: a key or integrity error then reaches
      // the reader, instead of being emitted before anyone listens (which kills the process).
      return Readable.from(
        (async function* () {
          const out = new DecryptStream(masterKey);
          source.on('error', (error) => out.destroy(error));
          try {
            // Piece by piece as deciphered: iterating the stream itself reads what is
            // buffered joined into one new buffer, a copy of the body (issue 14).
            yield* dataChunks(source.pipe(out));
            if (!out.readableEnded) throw out.errored ?? new VaultIntegrityError('the body stream closed before its end');
          } finally {
            source.destroy();
          }
        })(),
        { objectMode: false },
      );
    },
    seal: (plain) => sealBuffer(masterKey, plain),
    open: (sealed) => openBuffer(masterKey, sealed),
  };
}
export { BackupError, readArchive, writeArchive, type ArchiveEntry, type ArchiveLock, type ArchiveUnlock, type Manifest } from './backup-archive.ts';
export { generateBackupKeyPair, parseIdentity, parseRecipient, type BackupKeyPair } from './backup-archive-recipient.ts';
