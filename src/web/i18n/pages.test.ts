import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../../test/helpers/browser.ts';
import { injectClient } from '../../../test/helpers/web-inject.ts';
import { buildWebApp } from '../app.ts';
import { LANG_COOKIE } from './index.ts';

describe('pages in the negotiated language (fastify.inject)', () => {
  let fixture: PortalFixture;
  let app: FastifyInstance;
  beforeAll(async () => {
    fixture = await createPortalFixture({});
    app = buildWebApp(fixture.deps).app;
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await fixture?.cleanup();
  });

  it('follows Accept-Language: <html lang>, the frame and the page in German', async () => {
    const { request } = injectClient(app);
    const response = await request('GET', '/', undefined, { headers: { 'accept-language': 'de-CH, de;q=0.9, en;q=0.5' } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('<html lang="de" data-intl-locale="de-DE">');
    expect(response.body).toContain('<h1>Sichere Nachrichten abholen</h1>');
    expect(response.body).toContain('<nav class="languages" aria-label="Sprache">');
    expect(response.body).toContain('<a href="/?lang=en" lang="en" hreflang="en" data-keep-hash>English</a>');
    expect(String(response.headers.vary)).toContain('accept-language');
  });

  it('defaults to English', async () => {
    const { request } = injectClient(app);
    const response = await request('GET', '/', undefined, { headers: { 'accept-language': 'fr-FR, fr;q=0.9' } });
    expect(response.body).toContain('<html lang="en" data-intl-locale="en-GB">');
    expect(response.body).toContain('<h1>Secure Message Pickup</h1>');
  });

  it('remembers ?lang= in a cookie that outranks the browser language, error pages included', async () => {
    const { jar, request } = injectClient(app);
    const english = { 'accept-language': 'en' };
    const chosen = await request('GET', '/?lang=de', undefined, { headers: english });
    expect(chosen.body).toContain('<html lang="de"');
    const cookie = chosen.cookies.find((c) => c.name === LANG_COOKIE);
    expect(cookie).toMatchObject({ value: 'de', path: '/', secure: true, httpOnly: true, sameSite: 'Lax' });
    const missing = await request('GET', '/no/such/page', undefined, { headers: english });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).toContain('<html lang="de"');
    expect(missing.body).toContain('Diese Seite gibt es nicht. Prüfen Sie die Adresse.');
    expect(jar.get(LANG_COOKIE)).toBe('de');
    const back = await request('GET', '/?lang=en', undefined, { headers: english });
    expect(back.body).toContain('<html lang="en"');
  });

  it('ignores a ?lang= it does not offer, and escapes the page address in the language links', async () => {
    const { request } = injectClient(app);
    const response = await request('GET', '/?lang=%22%3E%3Cscript%3E', undefined, { headers: { 'accept-language': 'en' } });
    expect(response.cookies.find((c) => c.name === LANG_COOKIE)).toBeUndefined();
    expect(response.body).toContain('<html lang="en"');
    expect(response.body).not.toMatch(/<script>/);
  });
});
