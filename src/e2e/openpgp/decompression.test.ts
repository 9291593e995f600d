import zlib from 'node:zlib';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import './decompression.ts';

const inflate = async (bytes: Buffer, format: CompressionFormat) => Buffer.from(await new Response(new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DecompressionStream(format))).arrayBuffer());

describe('deflate with bytes after the end of the stream (sq --compression pad)', () => {
  it('inflates what the stream holds and ignores the rest, as GnuPG does; gzip stays native', async () => {
    const text = Buffer.from('lab results '.repeat(50_000));
    expect(await inflate(Buffer.concat([zlib.deflateRawSync(text), Buffer.from([3, 0, 7, 7, 7])]), 'deflate-raw')).toEqual(text);
    expect(await inflate(Buffer.concat([zlib.deflateSync(text), Buffer.alloc(32)]), 'deflate')).toEqual(text);
    expect(await inflate(zlib.gzipSync(text), 'gzip')).toEqual(text);
    // Not deflate at all still fails.
    await expect(inflate(Buffer.from('not compressed'), 'deflate-raw')).rejects.toThrow();
  });

  it('OpenPGP.js reads a compressed message through it', async () => {
    const message = await openpgp.createMessage({ text: 'hello '.repeat(1000) });
    const packed = await openpgp.encrypt({ message, passwords: ['pw'], config: { preferredCompressionAlgorithm: openpgp.enums.compression.zip }, format: 'binary' });
    const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: packed }), passwords: ['pw'] });
    expect(data).toBe('hello '.repeat(1000));
  });
});
