import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { buildWebApp } from './app.ts';

describe('static files: stylesheet and icon', () => {
  let fixture: PortalFixture;
  let app: FastifyInstance;
  beforeAll(async () => {
    fixture = await createPortalFixture();
    app = buildWebApp(fixture.deps).app;
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await fixture?.cleanup();
  });

  it('serves /favicon.ico as an ICO with a week of cache, so no page meets a 404 for it', async () => {
    const response = await app.inject({ method: 'GET', url: '/favicon.ico' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/x-icon');
    expect(response.headers['cache-control']).toBe('public, max-age=604800');
    // ICONDIR: reserved 0, type 1 (icon), then at least one image.
    expect([...response.rawPayload.subarray(0, 4)]).toEqual([0, 0, 1, 0]);
    expect(response.rawPayload.readUInt16LE(4)).toBeGreaterThan(0);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
  });

  it('links the SVG icon from every page and serves it', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.body).toContain('<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">');
    const icon = await app.inject({ method: 'GET', url: '/static/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.headers['cache-control']).toBe('public, max-age=604800');
    expect(icon.body).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const css = await app.inject({ method: 'GET', url: '/static/portal.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });
});
