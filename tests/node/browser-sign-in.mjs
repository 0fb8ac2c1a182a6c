// Signs in and out of the quickstart app with a real headless Chromium, the way a person would:
// clicks, redirects, cookies and all.
//
//   node tests/node/browser-sign-in.mjs http://localhost:PORT/ [--stop-on-stdin-close]
//
// The app must be the quickstart (`logi_examples::quickstart::app`) behind a provider in
// interactive mode on another site (127.0.0.1). Prints one JSON line of results on stdout and
// exits 0; on any failure prints `browser-sign-in: FAILED: …` on stderr and exits 1.
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
const STEP_TIMEOUT_MS = 15_000;
/** The whole run, browser start included, is bounded by this. */
const RUN_TIMEOUT_MS = 75_000;
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
const SESSION_COOKIE = '__Host-logi.session';
const TRANSACTION_COOKIE_PREFIX = '__Secure-logi.tx.';
const EXPECTED = { sub: 'user-0001', email: 'ada@example.com', name: 'Ada Lovelace' };

class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

function isLoopback(url) {
  if (!/^https?:$/.test(url.protocol)) return true; // about:, data:, chrome-error: …
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/** Query parameters that carry codes, tokens or one-time values: kept out of the report. */
const SECRET_PARAMS = ['code', 'state', 'nonce', 'code_challenge', 'id_token_hint'];

/** `url` with the values of secret query parameters replaced by `…`. */
function redact(url) {
  const parsed = new URL(url);
  for (const name of SECRET_PARAMS) {
    if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '…');
  }
  return decodeURI(parsed.href);
}

function parseArgs(argv) {
  const positional = argv.filter((a) => !a.startsWith('--'));
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  for (const flag of flags) {
    check(flag === '--stop-on-stdin-close', `unknown option ${flag}`);
  }
  check(positional.length === 1, 'usage: browser-sign-in.mjs http://localhost:PORT/ [--stop-on-stdin-close]');
  const app = new URL(positional[0]);
  check(app.protocol === 'http:' && app.hostname === 'localhost' && app.pathname === '/',
    `the app URL must be http://localhost:PORT/, not ${app}`);
  return { app, stopOnStdinClose: flags.has('--stop-on-stdin-close') };
}

let browser;
let stopping = false;

/** Closes the browser (bounded) and exits with `code`. */
async function stop(code, message) {
  if (stopping) return;
  stopping = true;
  if (message) process.stderr.write(`browser-sign-in: ${message}\n`);
  const closing = browser?.close().catch(() => {});
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  process.exit(code);
}

async function run({ app }) {
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

  // What the browser did, for the report and for the checks below.
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
  const onApp = (path) => (url) => url.origin === appOrigin && url.pathname === path;
  const onProvider = (path) => (url) => url.origin !== appOrigin && url.pathname === path;
  const cookieNamed = async (name) =>
    (await context.cookies()).find((cookie) => cookie.name === name);
  const text = async (selector) => (await page.locator(selector).textContent())?.trim();

  // 1. The home page, signed out.
  let response = await page.goto(app.href, { waitUntil: 'load' });
  check(response?.status() === 200, `home page answered ${response?.status()}`);
  check(await page.locator('#sign-in').isVisible(), 'the signed-out home page shows no #sign-in');

  // 2. "Sign in with logi" leads to the provider's sign-in page, on another site.
  await Promise.all([page.waitForURL(onProvider('/oauth/authorize')), page.click('#sign-in')]);
  const providerPage = page.url();
  const provider = new URL(providerPage).origin;
  check(new URL(providerPage).hostname === '127.0.0.1',
    `the provider should be on 127.0.0.1 (another site than localhost), not ${providerPage}`);
  check((await page.title()).startsWith('Sign in'), `the provider's page is titled "${await page.title()}"`);
  const transaction = (await context.cookies(new URL('/auth/callback', app).href))
    .find((cookie) => cookie.name.startsWith(TRANSACTION_COOKIE_PREFIX));
  check(transaction, `no ${TRANSACTION_COOKIE_PREFIX}* cookie was set for /auth/callback`);

  // 3. Choose the user; the provider sends the browser back through the callback to /dashboard.
  const user = page.locator(`button[name="user"][value="${EXPECTED.sub}"]`);
  check(await user.isVisible(), `the provider's page has no button for ${EXPECTED.sub}`);
  const button = (await user.textContent()).trim();
  await Promise.all([page.waitForURL(onApp('/dashboard'), { waitUntil: 'load' }), user.click()]);
  check(await page.title() === 'Dashboard', `after sign-in the page is titled "${await page.title()}"`);
  const shown = { sub: await text('#sub'), email: await text('#email'), name: await text('#name') };
  for (const [claim, expected] of Object.entries(EXPECTED)) {
    check(shown[claim] === expected, `the dashboard shows ${claim} "${shown[claim]}", expected "${expected}"`);
  }
  const session = await cookieNamed(SESSION_COOKIE);
  check(session, `no ${SESSION_COOKIE} cookie after sign-in`);
  check(session.httpOnly && session.secure && session.sameSite === 'Lax' && session.path === '/',
    `${SESSION_COOKIE} should be HttpOnly, Secure, SameSite=Lax, Path=/: ${JSON.stringify({ ...session, value: '…' })}`);
  const leftover = (await context.cookies()).filter((c) => c.name.startsWith(TRANSACTION_COOKIE_PREFIX));
  check(leftover.length === 0, `the transaction cookie outlived the callback: ${leftover.map((c) => c.name)}`);
  const screenshot = join(mkdtempSync(join(tmpdir(), 'logi-browser-')), 'dashboard.png');
  await page.screenshot({ path: screenshot, fullPage: true });

  // 4. Reloading keeps the user signed in.
  response = await page.reload({ waitUntil: 'load' });
  check(response?.status() === 200 && onApp('/dashboard')(new URL(page.url())),
    `reloading the dashboard answered ${response?.status()} at ${page.url()}`);
  check(await text('#sub') === EXPECTED.sub, 'after a reload the dashboard no longer shows the user');

  // 5. "Sign out": through the provider's end-session endpoint back to the home page.
  const beforeSignOut = navigations.length;
  await Promise.all([page.waitForURL(onApp('/'), { waitUntil: 'load' }), page.click('#sign-out')]);
  const signOut = navigations.slice(beforeSignOut);
  check(signOut.some((n) => n.startsWith(`GET ${provider}/oauth/logout?`)),
    `sign-out did not pass through the provider's end-session endpoint: ${signOut.join(' → ')}`);
  check(await page.locator('#sign-in').isVisible(), 'after sign-out the home page shows no #sign-in');
  check(!(await cookieNamed(SESSION_COOKIE)), `${SESSION_COOKIE} survived sign-out`);
  const cookiesAfter = (await context.cookies()).map((c) => c.name);

  // 6. The dashboard now leads to the sign-in flow, not to the dashboard.
  const beforeDashboard = navigations.length;
  await page.goto(new URL('/dashboard', app).href, { waitUntil: 'load' });
  const afterSignOut = page.url();
  check(onProvider('/oauth/authorize')(new URL(afterSignOut)) && new URL(afterSignOut).origin === provider,
    `after sign-out /dashboard ended at ${afterSignOut}, not at the provider's sign-in page`);
  check((await page.title()).startsWith('Sign in'), `after sign-out /dashboard shows "${await page.title()}"`);
  const toSignIn = navigations.slice(beforeDashboard);

  check(offLoopback.length === 0, `the browser left loopback: ${offLoopback.join(', ')}`);
  check(pageErrors.length === 0, `script errors on the pages: ${pageErrors.join('; ')}`);
  return {
    ok: true,
    chromium: browser.version(),
    app: app.href,
    provider,
    provider_page: redact(providerPage),
    provider_button: button,
    transaction_cookie: {
      name: transaction.name,
      path: transaction.path,
      http_only: transaction.httpOnly,
      secure: transaction.secure,
      same_site: transaction.sameSite,
    },
    dashboard: shown,
    session_cookie: {
      http_only: session.httpOnly,
      secure: session.secure,
      same_site: session.sameSite,
      path: session.path,
      domain: session.domain,
    },
    reload_status: response.status(),
    sign_out: signOut,
    cookies_after_sign_out: cookiesAfter,
    dashboard_after_sign_out: toSignIn,
    ended_at: redact(afterSignOut),
    screenshot,
    navigations,
    elapsed_ms: Date.now() - started,
  };
}

const options = (() => {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`browser-sign-in: ${error.message}\n`);
    process.exit(2);
  }
})();

setTimeout(() => stop(1, `FAILED: the run took longer than ${RUN_TIMEOUT_MS / 1000} s`), RUN_TIMEOUT_MS).unref();
process.on('SIGTERM', () => stop(1, 'stopped by SIGTERM'));
process.on('SIGINT', () => stop(1, 'stopped by SIGINT'));
if (options.stopOnStdinClose) {
  process.stdin.on('end', () => stop(1, 'stopped: stdin closed'));
  process.stdin.on('error', () => stop(1, 'stopped: stdin failed'));
  process.stdin.resume();
}

try {
  const result = await run(options);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await stop(0);
} catch (error) {
  const message = error instanceof Failure ? error.message : (error?.stack ?? String(error));
  await stop(1, `FAILED: ${message}`);
}
