/**
 * Debian's Chromium, driven by playwright-core (no browser download): installed by hack/install-chromium.sh,
 * launched headless with a fresh profile (playwright makes a temporary user data dir per launch).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian puts Chromium (override with HAEIN_CHROMIUM). */
export const CHROMIUM = process.env.HAEIN_CHROMIUM ?? '/usr/bin/chromium';

/** Launches headless Chromium; fails with the fix when it is not installed (e2e tests never silently skip). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run hack/install-chromium.sh (as root), which installs Debian's chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
