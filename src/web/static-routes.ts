import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/*
 * The portal's own static files, read once at start: the stylesheet and the icon. Fixed paths,
 * no user input. Browsers ask for /favicon.ico on every page unless told otherwise, so it is
 * served there too (a 404 on every page otherwise), and layout.ts links the SVG.
 */

const file = (name: string) => readFileSync(new URL(`./static/${name}`, import.meta.url));

// A week: the icon and sheet change only with a release, and their URLs carry no version to bust a longer cache.
const CACHE = 'public, max-age=604800';

const ASSETS: { path: string; type: string; body: Buffer; cache: string }[] = [
  // The sheet is re-read by browsers within the hour after an upgrade.
  { path: '/static/portal.css', type: 'text/css; charset=utf-8', body: file('portal.css'), cache: 'public, max-age=3600' },
  { path: '/static/favicon.svg', type: 'image/svg+xml', body: file('favicon.svg'), cache: CACHE },
  { path: '/favicon.ico', type: 'image/x-icon', body: file('favicon.ico'), cache: CACHE },
];

export const FAVICON_SVG = '/static/favicon.svg';

export function registerStatic(app: FastifyInstance): void {
  for (const asset of ASSETS) {
    app.get(asset.path, async (_request, reply) => reply.header('cache-control', asset.cache).type(asset.type).send(asset.body));
  }
}
