import { Duplex } from 'node:stream';
import zlib from 'node:zlib';

/*
 * OpenPGP.js inflates compressed packets through the web `DecompressionStream` when the
 * platform has one. Node 24's refuses any byte after the end of the deflate stream ("Trailing
 * junk found after the end of the compressed stream", nodejs/node#58316), and the compressed
 * packets Sequoia (`sq encrypt`, compression on by default) writes end that way, so their mail
 * could not be read. GnuPG, fflate and node:zlib stop at the stream's end and ignore the rest;
 * this gives `deflate` and `deflate-raw` a DecompressionStream on node:zlib that does the same.
 * Process-wide on purpose: OpenPGP.js looks the constructor up each time it inflates, and
 * nothing else here uses it. `gzip` keeps the native one.
 */

const Native = globalThis.DecompressionStream;

/** Called with `new` by OpenPGP.js: the object returned is the stream pair it pipes through. */
function TolerantDecompressionStream(format: CompressionFormat): { readable: ReadableStream<Uint8Array>; writable: WritableStream<BufferSource> } {
  if (format !== 'deflate' && format !== 'deflate-raw') return new Native(format);
  return Duplex.toWeb(format === 'deflate' ? zlib.createInflate() : zlib.createInflateRaw()) as { readable: ReadableStream<Uint8Array>; writable: WritableStream<BufferSource> };
}

let installed = false;

export function installTolerantDecompression(): void {
  if (installed || typeof Native === 'undefined') return;
  installed = true;
  globalThis.DecompressionStream = TolerantDecompressionStream as unknown as typeof DecompressionStream;
}

installTolerantDecompression();
