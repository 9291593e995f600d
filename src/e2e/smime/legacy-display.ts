/**
 * RFC 9788 §4.5.3: a decrypted Cryptographic Payload may carry Legacy Display Elements, a
 * decorative copy of the obscured header fields at the top of text/plain and text/html parts
 * marked `hp-legacy-display="1"`, for readers that do not know header protection. We deliver
 * the payload unwrapped, without the encryption layer a reader needs to recognise them
 * (§4.5.3.1), so we drop them here: the element (§4.5.3.2, §4.5.3.3) and the parameter, which
 * left alone could make a later reader cut the real first paragraph.
 */
import { base64Lines, field, joinEntity, multipartParts, parseContentType, splitEntity } from './mime.ts';
import type { Entity } from './mime.ts';

/** Deeper than any composer nests a Main Body Part; a bomb of nested multiparts stops here. */
const MAX_DEPTH = 8;

/** A whole decrypted message without its Legacy Display Elements (PGP/MIME's reader uses it too). */
export function messageWithoutLegacyDisplay(message: Buffer): Buffer {
  const entity = splitEntity(message);
  const cleaned = withoutLegacyDisplay(entity);
  return cleaned === entity ? message : joinEntity(cleaned.fields.map((f) => f.raw), cleaned.body);
}

/** The entity with its Legacy Display Elements removed, or the same entity when it has none. */
export function withoutLegacyDisplay(entity: Entity, depth = 0): Entity {
  if (depth > MAX_DEPTH) return entity;
  const type = parseContentType(field(entity.fields, 'content-type')?.value);
  if (type.type.startsWith('multipart/') && type.params.boundary) return multipartWithout(entity, type.params.boundary, depth);
  if (type.params['hp-legacy-display'] !== '1' || (type.type !== 'text/plain' && type.type !== 'text/html')) return entity;
  const encoding = field(entity.fields, 'content-transfer-encoding')?.value.trim().toLowerCase() ?? '7bit';
  const content = decode(entity.body, encoding);
  if (!content) return entity;
  const cleaned = type.type === 'text/plain' ? withoutLeadingBlock(content) : withoutLegacyDiv(content);
  if (!cleaned) return entity;
  const body = encoding === 'base64' || encoding === 'quoted-printable' ? Buffer.from(base64Lines(cleaned), 'latin1') : cleaned;
  const fields = entity.fields.map((f) => {
    const name = f.name.toLowerCase();
    if (name === 'content-type') return { ...f, raw: withoutParameter(f.raw, 'hp-legacy-display') };
    // Re-encoded as base64: simpler than writing quoted-printable back, and as valid.
    if (name === 'content-transfer-encoding' && encoding === 'quoted-printable') return { ...f, value: 'base64', raw: 'Content-Transfer-Encoding: base64' };
    return f;
  });
  return { fields, body };
}

function multipartWithout(entity: Entity, boundary: string, depth: number): Entity {
  let parts: Buffer[];
  try {
    parts = multipartParts(entity.body, boundary);
  } catch {
    return entity;
  }
  let changed = false;
  const rebuilt = parts.map((part) => {
    const inner = splitEntity(part);
    const cleaned = withoutLegacyDisplay(inner, depth + 1);
    if (cleaned === inner) return part;
    changed = true;
    // joinEntity ends the header block with a blank line; a part has no trailing break of its own.
    return joinEntity(cleaned.fields.map((f) => f.raw), cleaned.body);
  });
  if (!changed) return entity;
  const body = Buffer.concat([...rebuilt.flatMap((part) => [Buffer.from(`--${boundary}\r\n`, 'latin1'), part, Buffer.from('\r\n', 'latin1')]), Buffer.from(`--${boundary}--\r\n`, 'latin1')]);
  return { fields: entity.fields, body };
}

function decode(body: Buffer, encoding: string): Buffer | null {
  if (encoding === '7bit' || encoding === '8bit' || encoding === 'binary') return body;
  if (encoding === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    const text = body.toString('latin1').replace(/[ \t]+\r\n/g, '\r\n').replace(/=\r\n/g, '');
    return Buffer.from(text.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  }
  return null;
}

/** §4.5.3.2: the leading lines up to and including the first entirely blank line. */
function withoutLeadingBlock(content: Buffer): Buffer | null {
  const text = content.toString('latin1');
  const blank = /(^|\r?\n)\r?\n/.exec(text);
  if (!blank) return null;
  return content.subarray(blank.index + blank[0].length);
}

/** §4.5.3.3: a <div class="header-protection-legacy-display"> in the body, with what it holds. */
function withoutLegacyDiv(content: Buffer): Buffer | null {
  const text = content.toString('latin1');
  const open = /<div\b[^>]*\bclass\s*=\s*["']?[^"'>]*\bheader-protection-legacy-display\b[^>]*>/i.exec(text);
  if (!open) return null;
  const tags = /<(\/?)div\b[^>]*>/gi;
  tags.lastIndex = open.index + open[0].length;
  let depth = 1;
  for (let tag = tags.exec(text); tag; tag = tags.exec(text)) {
    depth += tag[1] ? -1 : 1;
    if (depth === 0) return Buffer.concat([content.subarray(0, open.index), content.subarray(tag.index + tag[0].length)]);
  }
  return null;
}

function withoutParameter(contentTypeRaw: string, name: string): string {
  return contentTypeRaw.replace(new RegExp(`;\\s*${name}=(?:"[^"]*"|[^;\\s]*)`, 'i'), '');
}
