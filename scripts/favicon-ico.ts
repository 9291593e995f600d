#!/usr/bin/env node
/*
 * Renders src/web/static/favicon.svg into favicon.ico (16, 32 and 48 px PNG images in an ICO
 * container, which every current browser reads) with the Chromium the tests use, so the two
 * icons cannot drift apart: run it after changing the SVG. ImageMagick is not a dependency.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { launchChromium } from '../test/helpers/browser.ts';

const dir = new URL('../src/web/static/', import.meta.url);
const svg = readFileSync(new URL('favicon.svg', dir), 'utf8');
const browser = await launchChromium();
const images: Buffer[] = [];
const sizes = [16, 32, 48];
for (const size of sizes) {
  const page = await browser.newPage({ viewport: { width: size, height: size }, deviceScaleFactor: 1 });
  await page.setContent(`<html><body style="margin:0">${svg.replace('width="32" height="32"', `width="${size}" height="${size}"`)}</body></html>`);
  images.push(await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } }));
  await page.close();
}
await browser.close();

// ICONDIR (6 bytes), one ICONDIRENTRY (16 bytes) per image, then the PNGs.
const header = Buffer.alloc(6);
header.writeUInt16LE(0, 0);
header.writeUInt16LE(1, 2);
header.writeUInt16LE(images.length, 4);
let offset = 6 + 16 * images.length;
const entries = images.map((png, i) => {
  const entry = Buffer.alloc(16);
  entry.writeUInt8(sizes[i]! % 256, 0);
  entry.writeUInt8(sizes[i]! % 256, 1);
  entry.writeUInt16LE(1, 4); // colour planes
  entry.writeUInt16LE(32, 6); // bits per pixel
  entry.writeUInt32LE(png.length, 8);
  entry.writeUInt32LE(offset, 12);
  offset += png.length;
  return entry;
});
writeFileSync(new URL('favicon.ico', dir), Buffer.concat([header, ...entries, ...images]));
console.log(`wrote favicon.ico (${sizes.join(', ')} px)`);
