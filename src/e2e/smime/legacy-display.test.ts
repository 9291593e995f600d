/**
 * RFC 9788 §4.5.3.2/§4.5.3.3 Legacy Display Elements removed from a decrypted payload: text/plain
 * (its leading block), text/html (the marked <div>), in any transfer encoding and inside a
 * multipart; parts without the marker are left byte for byte. The RFC's own vectors (C.3.2, C.3.4, C.3.6, C.3.8)
 * run in rfc9788-c3-simple.test.ts, the complex ones (C.3.10, C.3.12, C.3.14, C.3.16) in
 * rfc9788-c3-complex.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { withoutLegacyDisplay } from './legacy-display.ts';
import { joinEntity, splitEntity } from './mime.ts';

const entity = (text: string) => splitEntity(Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1'));
const render = (text: string) => {
  const cleaned = withoutLegacyDisplay(entity(text));
  return joinEntity(cleaned.fields.map((f) => f.raw), cleaned.body).toString('latin1');
};
const PLAIN = 'Content-Type: text/plain; charset="utf-8"; hp-legacy-display="1"\nContent-Transfer-Encoding: 7bit\n\nSubject: Secret plans\n\nSee you at noon.\n';

describe('withoutLegacyDisplay', () => {
  it('text/plain: drops the lines up to the first blank one and the hp-legacy-display parameter', () => {
    expect(render(PLAIN)).toBe('Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSee you at noon.\r\n');
  });

  it('text/plain in base64 and in quoted-printable: decoded, cleaned, written back as base64', () => {
    const base64 = Buffer.from('Subject: Secret plans\r\n\r\nSee you at noon.\r\n').toString('base64');
    const fromBase64 = render(`Content-Type: text/plain; hp-legacy-display="1"\nContent-Transfer-Encoding: base64\n\n${base64}\n`);
    expect(Buffer.from(fromBase64.split('\r\n\r\n')[1], 'base64').toString()).toBe('See you at noon.\r\n');
    const fromQp = render('Content-Type: text/plain; hp-legacy-display=1\nContent-Transfer-Encoding: quoted-printable\n\nSubject: Secret pl=\nans =3D x\n\nSee you at noon=2E\n');
    expect(fromQp).toContain('Content-Transfer-Encoding: base64\r\n');
    expect(Buffer.from(fromQp.split('\r\n\r\n')[1], 'base64').toString()).toBe('See you at noon.\r\n');
  });

  it('text/html: removes the header-protection-legacy-display <div> with what it holds, nested divs included', () => {
    const html = '<html><body><div class="header-protection-legacy-display"><div><pre>Subject: Secret plans</pre></div></div><p>See you at noon.</p><div>kept</div></body></html>';
    const out = render(`Content-Type: text/html; charset="utf-8"; hp-legacy-display="1"\n\n${html}\n`);
    expect(out).toContain('<html><body><p>See you at noon.</p><div>kept</div></body></html>');
    expect(out).not.toContain('Secret plans');
    expect(out).not.toContain('hp-legacy-display');
  });

  it('inside multipart/alternative: both main body parts cleaned, other parts and the structure kept', () => {
    const message = [
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: multipart/alternative; boundary="a"',
      '',
      '--a',
      'Content-Type: text/plain; hp-legacy-display="1"',
      '',
      'Subject: Secret plans',
      '',
      'See you at noon.',
      '--a',
      'Content-Type: text/html; hp-legacy-display="1"',
      '',
      '<div class="header-protection-legacy-display"><pre>Subject: Secret plans</pre></div><p>See you at noon.</p>',
      '--a--',
      '--m',
      'Content-Type: text/plain; name="notes.txt"',
      'Content-Disposition: attachment',
      '',
      'Subject: an attachment that starts like one',
      '',
      'stays whole',
      '--m--',
      '',
    ].join('\n');
    const out = render(message);
    expect(out).not.toContain('Secret plans');
    expect(out).not.toContain('hp-legacy-display');
    expect(out).toContain('\r\n\r\nSee you at noon.\r\n--a\r\n');
    expect(out).toContain('<p>See you at noon.</p>');
    expect(out).toContain('Subject: an attachment that starts like one\r\n\r\nstays whole');
    // Still a well-formed tree: the parts parse back.
    expect(out.match(/--a\r\n/g)?.length).toBe(2);
    expect(out).toContain('--a--\r\n');
    expect(out).toContain('--m--\r\n');
  });

  it('without the marker (or not text/plain or text/html), the entity comes back as it was', () => {
    for (const text of [
      PLAIN.replace('; hp-legacy-display="1"', ''),
      PLAIN.replace('hp-legacy-display="1"', 'hp-legacy-display="0"'),
      PLAIN.replace('text/plain', 'text/markdown'),
    ]) {
      const before = entity(text);
      expect(withoutLegacyDisplay(before)).toBe(before);
    }
  });
});
