import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';

/*
 * WCAG 2.2 AA checks in Chromium with axe-core. Every Chromium scenario calls
 * `expectAccessible(page, test, name)` on each page it visits: axe at desktop and phone width,
 * no sideways scrolling at phone width, and a full-page screenshot of each width under
 * test-artifacts/screenshots/ (git-ignored; kept on disk after the run for a person to look at).
 *
 * axe is injected with `page.evaluate(source)`, not `page.addScriptTag`: the portal's CSP
 * (script-src 'nonce-…') blocks an injected inline <script> (tried: "Executing inline script
 * violates the following Content Security Policy directive"), while code evaluated through the
 * DevTools protocol is not subject to the page's CSP. So the CSP stays on while the pages are
 * checked; `bypassCSP` would have turned it off for the whole context. A file that checks many
 * pages calls `withAxe(context)` once: axe then arrives with every document (an init script,
 * also outside the CSP), cheaper than sending its 500 kB source after each navigation.
 */

export const WCAG_AA_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] as const;

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-artifacts/screenshots');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  /** The axe rule, e.g. `color-contrast`; https://dequeuniversity.com/rules/axe/4.x/<id> explains it. */
  id: string;
  impact: string;
  help: string;
  helpUrl: string;
  /** One entry per offending element: its CSS selector, and what axe says is wrong with it. */
  nodes: { target: string; failure: string }[];
}

export interface AxeOptions {
  /** CSS selectors axe leaves out. */
  exclude?: string[];
}

/** Loads axe into every page of the context as it opens (optional: `axeViolations` injects it otherwise). */
export async function withAxe(context: BrowserContext): Promise<BrowserContext> {
  await context.addInitScript({ content: AXE_SOURCE });
  return context;
}

/** axe-core's WCAG 2.0/2.1/2.2 A and AA rules on the page as it is now. */
export async function axeViolations(page: Page, options: AxeOptions = {}): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async ({ tags, exclude }) => {
    const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: Array<{ id: string; impact?: string | null; help: string; helpUrl: string; nodes: Array<{ target: unknown[]; failureSummary?: string }> }> }> } }).axe;
    // iframes: false — the only frame is the message's own HTML, sandboxed without scripts so
    // axe cannot run in it (it would wait for the frame until its timeout); that content is the
    // sender's, not the portal's. The frame element itself (its title) is still checked.
    const result = await axe.run({ exclude: exclude.map((selector) => [selector]) }, { runOnly: { type: 'tag', values: tags }, iframes: false, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact ?? 'unknown', help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(' '), failure: (n.failureSummary ?? '').replace(/\s+/g, ' ').trim() })),
    }));
  }, { tags: [...WCAG_AA_TAGS], exclude: options.exclude ?? [] });
}

/** Violations as lines a person can act on: rule, impact, what to do, then each element and why. */
export function formatViolations(violations: AxeViolation[]): string {
  return violations.map((v) => [
    `${v.id} (${v.impact}): ${v.help} — ${v.helpUrl}`,
    ...v.nodes.map((n) => `    ${n.target}: ${n.failure}`),
  ].join('\n')).join('\n');
}

export interface WidthReport {
  width: number;
  violations: AxeViolation[];
  /** Set when the page scrolls sideways at this width: how much wider the document is than the viewport. */
  overflow?: { scrollWidth: number; clientWidth: number; widest: string[] };
  screenshot: string;
}

/** Sideways scrolling (WCAG 1.4.10 reflow), with the elements that stick out furthest to say what to fix. */
export async function horizontalOverflow(page: Page): Promise<WidthReport['overflow']> {
  return page.evaluate(() => {
    const root = document.documentElement;
    if (root.scrollWidth <= root.clientWidth) return undefined;
    const widest = [...document.body.querySelectorAll('*')]
      .map((el) => ({ el, right: el.getBoundingClientRect().right }))
      .filter((e) => e.right > root.clientWidth + 0.5)
      .sort((a, b) => b.right - a.right)
      .slice(0, 5)
      .map(({ el, right }) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (right edge ${Math.round(right)} px)`);
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, widest };
  });
}

const fileSafe = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');

/**
 * The page at desktop then phone width: axe at each, the sideways-scroll check at phone width,
 * and a full-page screenshot `<test>-<page>-<width>.png` of each. The viewport is left at the
 * size it had before.
 */
export async function checkPage(page: Page, test: string, name: string, options: AxeOptions = {}): Promise<WidthReport[]> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const before = page.viewportSize();
  const reports: WidthReport[] = [];
  try {
    for (const size of [DESKTOP, PHONE]) {
      await page.setViewportSize(size);
      // Layout at the new width settles before anything is measured.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      const screenshot = path.join(SCREENSHOTS, `${fileSafe(test)}-${fileSafe(name)}-${size.width}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      const report: WidthReport = { width: size.width, violations: await axeViolations(page, options), screenshot };
      if (size === PHONE) report.overflow = await horizontalOverflow(page);
      reports.push(report);
    }
  } finally {
    if (before) await page.setViewportSize(before);
  }
  return reports;
}

/** What is wrong with the page at either width, as one message; empty when nothing is. */
export function describeProblems(name: string, reports: WidthReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    if (r.violations.length) lines.push(`${name} at ${r.width} px: ${r.violations.length} axe violation(s) (screenshot ${r.screenshot})\n${formatViolations(r.violations)}`);
    if (r.overflow) lines.push(`${name} at ${r.width} px scrolls sideways: document ${r.overflow.scrollWidth} px wide in a ${r.overflow.clientWidth} px viewport; furthest out: ${r.overflow.widest.join(', ')}`);
  }
  return lines.join('\n');
}

/** Fails with every violation and overflow named when the page is not WCAG 2.2 AA clean at both widths. */
export async function expectAccessible(page: Page, test: string, name: string, options: AxeOptions = {}): Promise<void> {
  const problems = describeProblems(name, await checkPage(page, test, name, options));
  if (problems) throw new Error(`${page.url()}\n${problems}`);
}
