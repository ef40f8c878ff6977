/** Waits on a page served under a strict Content-Security-Policy, shared by the slice map benchmark and its browser test. */
import type { Page } from 'playwright-core';

/** The page's document as far as {@link waitForCount} reads it (this code is compiled without the DOM library). */
type PageDocument = { document: { querySelectorAll(selector: string): { length: number } } };

/**
 * Waits until the page has between `min` and `max` elements matching `selector`. The predicate is a function, so
 * Playwright compiles it once; a string predicate is eval'd again on every poll, which a page whose
 * Content-Security-Policy has no `unsafe-eval` (the slice map's) refuses as soon as the first check fails.
 */
export async function waitForCount(page: Page, selector: string, min: number, max: number, opts: { timeout: number; polling?: 'raf' | number }): Promise<void> {
  await page.waitForFunction(
    ([sel, lo, hi]) => {
      const n = (globalThis as unknown as PageDocument).document.querySelectorAll(sel).length;
      return n >= lo && n <= hi;
    },
    [selector, min, max] as const,
    opts,
  );
}
