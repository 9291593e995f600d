import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/*
 * The organisation's logo (branding.logoFile), read once at start and served at LOGO_PATH.
 * PNG or JPEG only, recognised by their first bytes (not the file name): a raster image cannot
 * carry script, where an SVG served from the portal's origin could. Every response still has
 * the portal's CSP and `X-Content-Type-Options: nosniff` (security.ts).
 */

export const LOGO_PATH = '/static/logo';
const MAX_BYTES = 256 * 1024;
// A day: a new logo shows within one, and the path carries no version to bust a longer cache.
const CACHE = 'public, max-age=86400';

export interface Logo {
  body: Buffer;
  type: 'image/png' | 'image/jpeg';
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff]);

/** The image's type by its signature, or undefined for anything else (SVG, GIF, HTML …). */
export function logoType(bytes: Buffer): Logo['type'] | undefined {
  if (bytes.subarray(0, PNG.length).equals(PNG)) return 'image/png';
  if (bytes.subarray(0, JPEG.length).equals(JPEG)) return 'image/jpeg';
  return undefined;
}

/** Reads and checks branding.logoFile; throws a sentence naming the key when it will not do. */
export function loadLogo(path: string): Logo {
  let body: Buffer;
  try {
    body = readFileSync(path);
  } catch (error) {
    throw new Error(`branding.logoFile: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give the path of a PNG or JPEG file the gateway may read`);
  }
  if (body.length > MAX_BYTES) throw new Error(`branding.logoFile: ${path} has ${body.length} bytes, more than ${MAX_BYTES}; scale the logo down (a few hundred pixels wide is plenty)`);
  const type = logoType(body);
  if (!type) throw new Error(`branding.logoFile: ${path} is not a PNG or JPEG image (SVG is not accepted: it can carry script); export the logo as PNG`);
  return { body, type };
}

export function registerLogo(app: FastifyInstance, logo: Logo): void {
  app.get(LOGO_PATH, async (_request, reply) => reply.header('cache-control', CACHE).type(logo.type).send(logo.body));
}
