import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient } from '../../test/helpers/web-inject.ts';
import { buildWebApp } from './app.ts';
import { loadLogo } from './logo.ts';

// The 8-byte PNG signature and an IHDR chunk: enough for the type check, and a real PNG header.
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

describe('branding in the portal (branding.*)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-brand-'));
  const logoFile = path.join(dir, 'logo.png');
  writeFileSync(logoFile, PNG);
  let fixture: PortalFixture;
  let app: FastifyInstance;
  beforeAll(async () => {
    fixture = await createPortalFixture({
      config: { branding: { organisation: 'St. Mary’s <Clinic>', contact: 'Questions? Call 030 1234 567 & ask for Records.', logoFile, noticeFrom: 'secure@clinic.test' } },
    });
    app = buildWebApp(fixture.deps).app;
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await fixture?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the organisation, its logo and contact line on every page, escaped', async () => {
    const { request } = injectClient(app);
    for (const url of ['/', '/no/such/page', '/console/login']) {
      const response = await request('GET', url);
      expect(response.body, url).toContain('· St. Mary’s &lt;Clinic&gt;</title>');
      expect(response.body, url).toContain('<span class="brand"><img class="logo" src="/static/logo" alt="" height="32">St. Mary’s &lt;Clinic&gt;</span>');
      expect(response.body, url).toContain('<p class="contact">Questions? Call 030 1234 567 &amp; ask for Records.</p>');
      expect(response.body, url).not.toContain('>Sealgate<');
    }
  });

  it('shows the organisation on a page the framework refuses before any route (a URL that does not decode)', async () => {
    const response = await app.inject({ method: 'GET', url: '/m/%zz', headers: { 'accept-language': 'de' } });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('<span class="brand"><img class="logo" src="/static/logo" alt="" height="32">St. Mary’s &lt;Clinic&gt;</span>');
    expect(response.body).toContain('<html lang="de"');
  });

  it('serves the logo as an image with its type, a day of cache, nosniff and the strict CSP', async () => {
    const { request } = injectClient(app);
    const response = await request('GET', '/static/logo');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
    expect(response.headers['cache-control']).toBe('public, max-age=86400');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(String(response.headers['content-security-policy'])).toMatch(/^default-src 'none'; script-src 'nonce-/);
    expect(response.rawPayload.equals(PNG)).toBe(true);
  });

  it('sends the one-time code from the notice address under the organisation name', async () => {
    const { id } = await fixture.pickup.create({ sender: 'alice@clinic.test', recipient: 'bob@dest.test', subject: 's', verification: 'code', parts: [] });
    const { request } = injectClient(app);
    const form = await request('GET', `/m/${id}`);
    const csrf = form.body.match(/name="_csrf" value="([^"]+)"/)![1];
    expect((await request('POST', `/m/${id}/code`, { _csrf: csrf })).statusCode).toBe(303);
    const mail = fixture.mails.at(-1)!;
    expect(mail.envelope.from).toBe('secure@clinic.test');
    const parsed = await simpleParser(mail.raw);
    expect(parsed.from?.value).toEqual([{ address: 'secure@clinic.test', name: 'St. Mary’s <Clinic>' }]);
  });

  it('refuses a logo that is not PNG or JPEG by its bytes, too large, or missing, naming the key', () => {
    const svg = path.join(dir, 'evil.png');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>');
    expect(() => loadLogo(svg)).toThrow(/^branding\.logoFile: .* is not a PNG or JPEG image \(SVG is not accepted/);
    const big = path.join(dir, 'big.png');
    writeFileSync(big, Buffer.concat([PNG, Buffer.alloc(300 * 1024)]));
    expect(() => loadLogo(big)).toThrow(/more than 262144; scale the logo down/);
    expect(() => loadLogo(path.join(dir, 'none.png'))).toThrow(/cannot read .*none\.png \(ENOENT\)/);
    expect(loadLogo(logoFile).type).toBe('image/png');
  });
});
