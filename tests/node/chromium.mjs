// What the browser scripts share: launching the Debian Chromium with playwright-core, bounding
// every step and the whole run, recording what the browser did, and the scripts' contract with
// their Rust driver (tests/support/chromium.rs):
//
//   node tests/node/SCRIPT.mjs http://localhost:PORT/ [--stop-on-stdin-close]
//
// prints one JSON line of results on stdout and exits 0; on any failure prints
// `SCRIPT: FAILED: …` on stderr and exits 1 (2 for a bad command line).
//
// Environment:
//   LOGI_E2E_CHROMIUM  the browser to drive (default /usr/bin/chromium). Never downloads one.
//
// With --stop-on-stdin-close, the script closes the browser and exits when its stdin closes:
// the parent's way to stop it (and, if the parent dies, the run stops with it).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** Every navigation and every wait for an element is bounded by this. */
export const STEP_TIMEOUT_MS = 15_000;
/** The whole run, browser start included, is bounded by this. */
export const RUN_TIMEOUT_MS = 75_000;
/** Launch flags for the Debian Chromium as root on a machine without network (see TESTING.md).
 * Playwright adds its own (among them --headless, --no-sandbox, --no-first-run,
 * --disable-background-networking, --disable-component-update, --disable-sync) and a fresh,
 * empty --user-data-dir that it deletes on close; the ones it adds are repeated here so that the
 * list reads as the contract. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SESSION_COOKIE = '__Host-logi.session';
export const TRANSACTION_COOKIE_PREFIX = '__Host-logi.tx.';

class Failure extends Error {}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

function isLoopback(url) {
  if (!/^https?:$/.test(url.protocol)) return true; // about:, data:, chrome-error: …
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** Query parameters that carry codes, tokens or one-time values: kept out of the report. */
const SECRET_PARAMS = ['code', 'state', 'nonce', 'code_challenge', 'id_token_hint'];

/** `url` with the values of secret query parameters replaced by `…`. */
export function redact(url) {
  const parsed = new URL(url);
  for (const name of SECRET_PARAMS) {
    if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '…');
  }
  return decodeURI(parsed.href);
}

function parseArgs(name, argv) {
  const positional = argv.filter((a) => !a.startsWith('--'));
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  for (const flag of flags) {
    check(flag === '--stop-on-stdin-close', `unknown option ${flag}`);
  }
  check(positional.length === 1, `usage: ${name}.mjs http://localhost:PORT/ [--stop-on-stdin-close]`);
  const app = new URL(positional[0]);
  check(app.protocol === 'http:' && app.hostname === 'localhost' && app.pathname === '/',
    `the app URL must be http://localhost:PORT/, not ${app}`);
  return { app, stopOnStdinClose: flags.has('--stop-on-stdin-close') };
}

let browser;
let stopping = false;

/** Closes the browser (bounded) and exits with `code`. */
async function stop(name, code, message) {
  if (stopping) return;
  stopping = true;
  if (message) process.stderr.write(`${name}: ${message}\n`);
  const closing = browser?.close().catch(() => {});
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  process.exit(code);
}

/** Launches Chromium and opens one page on the app at `app`, recording what it does. */
async function open(app) {
  const started = Date.now();
  const executablePath = process.env.LOGI_E2E_CHROMIUM || '/usr/bin/chromium';
  browser = await chromium.launch({
    executablePath,
    args: CHROMIUM_ARGS,
    headless: true,
    timeout: 30_000,
  });
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();

  // What the browser did, for the report and for the checks.
  const navigations = []; // "METHOD URL STATUS", every top-level document request
  const offLoopback = [];
  const pageErrors = [];
  page.on('response', (response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      navigations.push(`${request.method()} ${redact(request.url())} ${response.status()}`);
    }
  });
  page.on('request', (request) => {
    if (!isLoopback(new URL(request.url()))) offLoopback.push(request.url());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));

  const appOrigin = app.origin;
  return {
    context,
    page,
    navigations,
    /** Whether a URL is `path` on the app. */
    onApp: (path) => (url) => url.origin === appOrigin && url.pathname === path,
    /** Whether a URL is `path` on another origin (the provider). */
    onProvider: (path) => (url) => url.origin !== appOrigin && url.pathname === path,
    cookieNamed: async (cookie) => (await context.cookies()).find((c) => c.name === cookie),
    text: async (selector) => (await page.locator(selector).textContent())?.trim(),
    /** A full-page screenshot in a new temporary folder; its path. */
    screenshot: async (file) => {
      const path = join(mkdtempSync(join(tmpdir(), 'logi-browser-')), file);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    /** The checks every run ends with: the browser stayed on loopback, the pages threw nothing. */
    finish: () => {
      check(offLoopback.length === 0, `the browser left loopback: ${offLoopback.join(', ')}`);
      check(pageErrors.length === 0, `script errors on the pages: ${pageErrors.join('; ')}`);
      return { chromium: browser.version(), elapsed_ms: Date.now() - started };
    },
  };
}

/** The script's whole life: `run({ app, open })` within the run's bound, its result printed as
 * one JSON line, the browser closed whatever happens. `name` prefixes messages on stderr. */
export async function main(name, run) {
  const options = (() => {
    try {
      return parseArgs(name, process.argv.slice(2));
    } catch (error) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(2);
    }
  })();

  setTimeout(() => stop(name, 1, `FAILED: the run took longer than ${RUN_TIMEOUT_MS / 1000} s`), RUN_TIMEOUT_MS).unref();
  process.on('SIGTERM', () => stop(name, 1, 'stopped by SIGTERM'));
  process.on('SIGINT', () => stop(name, 1, 'stopped by SIGINT'));
  if (options.stopOnStdinClose) {
    process.stdin.on('end', () => stop(name, 1, 'stopped: stdin closed'));
    process.stdin.on('error', () => stop(name, 1, 'stopped: stdin failed'));
    process.stdin.resume();
  }

  try {
    const result = await run({ app: options.app, open: () => open(options.app) });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    await stop(name, 0);
  } catch (error) {
    const message = error instanceof Failure ? error.message : (error?.stack ?? String(error));
    await stop(name, 1, `FAILED: ${message}`);
  }
}
