/**
 * Line ends to CRLF for both protectors (RFC 3156 §5, RFC 8551 §3.1.1). Mail from the SMTP path
 * is CRLF already: that case is detected with native indexOf and returned without a copy (the
 * regex rewrite of a 1 MB message was ~19% of unprotecting it, bench/README.md e2e).
 */
function isCrlfOnly(bytes: Buffer, loneCr: boolean): boolean {
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) if (i === 0 || bytes[i - 1] !== 13) return false;
  if (loneCr) for (let i = bytes.indexOf(13); i >= 0; i = bytes.indexOf(13, i + 1)) if (bytes[i + 1] !== 10) return false;
  return true;
}

/** Bare LF to CRLF; with `loneCr`, a CR not followed by LF too. */
export function toCrlf(input: Uint8Array, loneCr: boolean): Buffer {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (isCrlfOnly(bytes, loneCr)) return bytes;
  return Buffer.from(bytes.toString('latin1').replace(loneCr ? /\r\n|\r|\n/g : /\r?\n/g, '\r\n'), 'latin1');
}
