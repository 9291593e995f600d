import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createPortalFixture, type PortalFixture } from '../../test/helpers/browser.ts';
import { injectClient, multipart, signedInClient, type Upload } from '../../test/helpers/web-inject.ts';
import { buildWebApp } from './app.ts';
import { ANALYZE_LIMIT_BYTES } from './console-analyze.ts';

/*
 * The console's "was it sent over TLS?" page (issue 12) over fastify.inject: paste or upload,
 * the same verdict as `sealgate analyze`, hostile header text escaped, 413 past the limit,
 * CSRF and sign-in as every console form.
 */

const PASSWORD = 'correct horse battery';
const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/received');
const sample = (name: string) => readFileSync(path.join(FIXTURES, name), 'latin1');

describe('console header analysis', () => {
  let fixture: PortalFixture | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await fixture?.cleanup();
    app = undefined;
    fixture = undefined;
  });

  async function signedIn() {
    fixture = await createPortalFixture();
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    await fixture.users.add('alice@example.test', PASSWORD);
    const client = await signedInClient(app, 'console', 'alice@example.test', PASSWORD);
    expect(client.response.headers.location).toBe('/console');
    const { csrf } = client;
    const analyze = (fields: [string, string][], files: Upload[] = [], token = csrf) => {
      const upload = multipart([['_csrf', token], ...fields], files);
      return client.request('POST', '/console/analyze', undefined, { headers: { 'content-type': upload.type }, payload: upload.body });
    };
    return { ...client, analyze };
  }

  it('needs a signed-in sender', async () => {
    fixture = await createPortalFixture();
    app = buildWebApp(fixture.deps).app;
    await app.ready();
    const response = await injectClient(app).request('GET', '/console/analyze');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/console/login');
  });

  it('analyses a pasted header: the verdict, one row per Received field, the recorded results', async () => {
    const alice = await signedIn();
    const form = await alice.request('GET', '/console/analyze');
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('id="analyze-form"');
    const response = await alice.analyze([['message', sample('sendmail-amavis-csgroup.eml')]]);
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('TLS on 2 of 6 hops between hosts.');
    expect(response.body.match(/<tr class="hop /g)).toHaveLength(11);
    expect(response.body).toContain('TLSv1.3 TLS_AES_256_GCM_SHA384');
    expect(response.body).toContain('<strong>lists.ozlabs.org</strong>: spf=pass');
    // No resolver given to this app: said so rather than shown as a pass.
    expect(response.body).toContain('DKIM and ARC were not checked again');
  });

  it('analyses an uploaded message file, in German when asked', async () => {
    const alice = await signedIn();
    const file = { name: 'file', filename: 'message.eml', type: 'message/rfc822', content: Buffer.from(sample('microsoft365-mapi-kontron.eml'), 'latin1') };
    const response = await alice.analyze([['message', '']], [file]);
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('TLS on every hop: 3 hops between hosts.');
    expect(response.body).toContain('“with mapi”: not SMTP between hosts.');
    const german = await alice.request('GET', '/console/analyze?lang=de');
    expect(german.body).toContain('Wurde sie über TLS gesendet?');
  });

  it('shows what a hostile stamp says as text, never as markup', async () => {
    const alice = await signedIn();
    const hostile = 'Received: from <script>alert(1)</script> ([192.0.2.9]) by "><img src=x onerror=alert(2)> with ESMTP; Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n';
    const response = await alice.analyze([['message', hostile]]);
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('<script>alert(1)');
    expect(response.body).not.toContain('<img src=x');
    expect(response.body).toContain('&lt;script&gt;alert');
  });

  it('refuses more than the limit with 413, an empty form with 400, a missing CSRF field with 403', async () => {
    const alice = await signedIn();
    const big = `${sample('postfix-suse-vger.eml')}${'X-Filler: 0123456789abcdef\r\n'.repeat(Math.ceil(ANALYZE_LIMIT_BYTES / 28))}`;
    expect((await alice.analyze([['message', big]])).statusCode).toBe(413);
    const file = { name: 'file', filename: 'big.eml', type: 'message/rfc822', content: Buffer.from(big) };
    const uploaded = await alice.analyze([['message', '']], [file]);
    expect(uploaded.statusCode).toBe(413);
    expect(uploaded.body).toContain('larger than 1 MB');
    expect((await alice.analyze([['message', '  ']])).statusCode).toBe(400);
    expect((await alice.analyze([['message', sample('postfix-suse-vger.eml')]], [], 'forged')).statusCode).toBe(403);
  });
});
