import { describe, expect, it } from 'vitest';
import { countBlockedImages, sanitizeEmailHtml } from './sanitize-html.ts';

const clean = (input: string) => sanitizeEmailHtml(input).html;

describe('sanitizeEmailHtml on hostile HTML', () => {
  it('drops scripts and their text, and every event handler', () => {
    expect(clean('<p>a</p><script>alert(1)</script><SCRIPT src="http://evil.test/x.js"></SCRIPT>')).toBe('<p>a</p>');
    const out = clean('<p onclick="x()" onmouseover=y()>b</p><body onload="z()"><div onfocus="w()" tabindex=1>c</div>');
    expect(out).toBe('<p>b</p><div>c</div>');
    expect(clean('<svg onload="alert(1)"><circle/></svg><math><mi xlink:href="javascript:alert(2)">x</mi></math>ok')).toBe('ok');
  });

  it('removes javascript:, data: and vbscript: links, keeps http(s) and mailto ones inert-safe', () => {
    expect(clean('<a href="javascript:alert(1)">j</a>')).toBe('<a>j</a>');
    expect(clean('<a href=" JaVaScRiPt:alert(1)">j</a>')).toBe('<a>j</a>');
    expect(clean('<a href="java&#x09;script:alert(1)">j</a>')).toBe('<a>j</a>');
    expect(clean('<a href="data:text/html,<script>alert(1)</script>">d</a>')).toBe('<a>d</a>');
    expect(clean('<a href="vbscript:msgbox(1)">v</a>')).toBe('<a>v</a>');
    expect(clean('<a href="//evil.test/">p</a>')).toBe('<a>p</a>');
    expect(clean('<a href="https://example.org/x?a=1&b=2">ok</a>')).toBe('<a href="https://example.org/x?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">ok</a>');
    expect(clean('<a href="mailto:bob@example.org">m</a>')).toBe('<a href="mailto:bob@example.org" target="_blank" rel="noopener noreferrer">m</a>');
  });

  it('drops styles and CSS url() beacons (style elements, style attributes, background attributes, link)', () => {
    const out = clean('<style>body{background:url(http://evil.test/css)}</style><link rel="stylesheet" href="http://evil.test/s.css">'
      + '<div style="background-image:url(http://evil.test/a)">x</div><table background="http://evil.test/t.gif"><tr><td background="http://evil.test/td.gif">y</td></tr></table>');
    expect(out).not.toMatch(/evil\.test|style|background|url\(/i);
    expect(out).toContain('<div>x</div>');
  });

  it('blocks remote images (the read beacon) and keeps inline data: images', () => {
    const result = sanitizeEmailHtml('<img src="http://evil.test/pixel.gif" alt="logo"><img src=x onerror=alert(1)><img srcset="http://evil.test/a.png 2x"><img src="cid:part1">'
      + '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot"><img src="data:image/svg+xml;base64,PHN2Zz4=">');
    expect(result.html).not.toMatch(/evil\.test|onerror|srcset|cid:|svg/);
    expect(result.html).toContain('[image: logo]');
    expect(result.html).toContain('<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot" />');
    expect(result.blockedImages).toBe(5);
  });

  it('drops forms and their controls, meta refresh, base, frames, objects and embeds', () => {
    const out = clean('<form action="http://evil.test/steal" method="post"><input name="pw" type="password"><button>Log in</button><textarea>t</textarea><select><option>o</option></select></form>'
      + '<meta http-equiv="refresh" content="0;url=http://evil.test/"><base href="http://evil.test/"><iframe src="http://evil.test/f">frame</iframe>'
      + '<object data="http://evil.test/o"></object><embed src="http://evil.test/e"><audio src="http://evil.test/a.mp3"></audio><video poster="http://evil.test/p.png"></video>text');
    expect(out).toBe('text');
  });

  it('keeps ordinary message structure and text', () => {
    const input = '<h1>Offer</h1><p>Dear <b>Bob</b>,<br>see <i>below</i>:</p><ul><li>one</li></ul><table border="1"><tr><th colspan="2">h</th></tr><tr><td>1</td><td>2</td></tr></table><blockquote>q</blockquote>';
    expect(clean(input)).toBe(input.replace('<br>', '<br />'));
  });

  it('counts the remote images it blocked', () => {
    expect(countBlockedImages(clean('<img src="http://a.test/x.gif" alt="x"><img src="https://b.test/y.png"><p>z</p>'))).toBe(2);
    expect(countBlockedImages(clean('<p>none</p>'))).toBe(0);
  });
});

describe('sanitizeEmailHtml keeps a sender’s inline colours and fonts, and nothing that loads or places', () => {
  it('keeps colour, background colour and font styles', () => {
    expect(clean('<p style="color: #c00; background-color: rgb(255, 240, 200); font-weight: bold">red</p>'))
      .toBe('<p style="color:#c00;background-color:rgb(255, 240, 200);font-weight:bold">red</p>');
    expect(clean('<span style="font-family: Arial, \'Helvetica Neue\', sans-serif; font-size: 14px; font-style: italic; text-align: center">t</span>'))
      .toBe('<span style="font-family:Arial, \'Helvetica Neue\', sans-serif;font-size:14px;font-style:italic;text-align:center">t</span>');
    expect(clean('<td style="background-color: navy; color: white">c</td>')).toContain('style="background-color:navy;color:white"');
  });

  it.each([
    'color: red; background-image: url(http://evil.test/a)',
    'background-color: url(http://evil.test/a)',
    'color: expression(alert(1))',
    'color: var(--x)',
    'color: \\72 ed',
    'background: red url(http://evil.test/b)',
    'position: fixed; top: 0; left: 0; width: 100%; height: 100%; background-color: white',
    'color: red !important; z-index: 99999',
    'font-family: "x"; behavior: url(x.htc)',
    'color: rgb(1,2,3) url(x)',
    'font-size: calc(100vh)',
    'display: block; margin-top: -900px',
  ])('never lets through what loads, runs or places: %s', (style) => {
    const out = clean(`<div style="${style}">x</div>`);
    expect(out).not.toMatch(/url|expression|var\(|\\|position|fixed|z-index|behavior|calc|display|margin|width|height|top|left/i);
  });
});
