import { describe, expect, it } from 'vitest';
import { errorPage } from './errors.ts';
import { translator } from './i18n/index.ts';

/* Issue 10 item 12: error pages say what went wrong in their title and heading, never "Not done". */

describe('error page titles', () => {
  it.each([
    [404, 'Page not found'], [403, 'Not allowed'], [400, 'Request not understood'], [429, 'Too many requests'],
    [413, 'Upload too large'], [418, 'Request refused'], [500, 'Something went wrong'],
  ])('%i is titled %j', (status, heading) => {
    const page = errorPage(status, 'x', 'nonce');
    expect(page).toContain(`<h1>${heading}</h1>`);
    expect(page).toContain(`<title>${heading} · Sealgate</title>`);
    expect(page).not.toMatch(/Not done|<title>Error/);
  });

  it('in German too', () => {
    expect(errorPage(404, 'x', 'n', translator('de'))).toContain('<h1>Seite nicht gefunden</h1>');
  });
});
