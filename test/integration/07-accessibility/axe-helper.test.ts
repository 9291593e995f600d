import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, checkPage, describeProblems, formatViolations } from '../../helpers/axe.ts';
import { CHROMIUM, hasChromium, launchChromium } from '../../helpers/browser.ts';

/*
 * The checker itself: a page with known faults must come back with exactly those named, so a
 * sweep that reports 0 violations means the pages are clean, not that axe never ran.
 */

const available = hasChromium();
if (!available) console.warn(`SKIP axe helper: ${CHROMIUM} is missing (run scripts/install-peers.sh as root)`);

const FAULTY = `<!doctype html><html lang="en"><head><title>Faulty</title></head><body><main>
<h1>Faulty page</h1>
<input type="text" id="unlabelled">
<p style="color:#aaa;background:#fff">Grey on white, 2.3:1.</p>
<div id="too-wide" style="width:900px">wide</div>
</main></body></html>`;

const CLEAN = `<!doctype html><html lang="en"><head><title>Clean</title></head><body><main>
<h1>Clean page</h1><label for="name">Name</label><input type="text" id="name"></main></body></html>`;

describe.skipIf(!available)('axe helper', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('names the rule, the element and the fix of each violation, and sideways scrolling at 390 px', async () => {
    await page.setContent(FAULTY);
    const reports = await checkPage(page, 'axe-helper', 'faulty');
    expect(reports.map((r) => r.width)).toEqual([1280, 390]);
    for (const r of reports) {
      expect(r.violations.map((v) => v.id).sort()).toEqual(['color-contrast', 'label']);
      expect(r.violations.find((v) => v.id === 'label')?.nodes.map((n) => n.target)).toEqual(['#unlabelled']);
    }
    expect(reports[0]?.overflow).toBeUndefined();
    expect(reports[1]?.overflow?.widest[0]).toMatch(/^div#too-wide/);
    const message = describeProblems('faulty', reports);
    expect(message).toContain('label (critical): Form elements must have labels');
    expect(message).toContain('scrolls sideways');
    expect(formatViolations(reports[0]!.violations)).toMatch(/#unlabelled: Fix any of the following/);
  });

  it('finds nothing on a clean page', async () => {
    await page.setContent(CLEAN);
    expect(await axeViolations(page)).toEqual([]);
    expect(describeProblems('clean', await checkPage(page, 'axe-helper', 'clean'))).toBe('');
  });
});
