// Signs in and out of the quickstart app with a real headless Chromium, the way a person would:
// clicks, redirects, cookies and all.
//
//   node tests/node/browser-sign-in.mjs http://localhost:PORT/ [--stop-on-stdin-close]
//
// The app must be the quickstart (`logi_examples::quickstart::app`) behind a provider in
// interactive mode on another site (127.0.0.1). Prints one JSON line of results on stdout and
// exits 0; on any failure prints `browser-sign-in: FAILED: …` on stderr and exits 1. The launch,
// the bounds and the options are chromium.mjs's.

import { SESSION_COOKIE, TRANSACTION_COOKIE_PREFIX, check, main, redact } from './chromium.mjs';

const EXPECTED = { sub: 'user-0001', email: 'ada@example.com', name: 'Ada Lovelace' };

async function run({ app, open }) {
  const { context, page, navigations, onApp, onProvider, cookieNamed, text, screenshot, finish } = await open();

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
  const dashboardScreenshot = await screenshot('dashboard.png');

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

  const { chromium, elapsed_ms } = finish();
  return {
    ok: true,
    chromium,
    app: app.href,
    provider,
    provider_page: redact(providerPage),
    provider_button: button,
    transaction_cookie: {
      name: transaction.name,
      path: transaction.path,
      domain: transaction.domain,
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
    screenshot: dashboardScreenshot,
    navigations,
    elapsed_ms,
  };
}

await main('browser-sign-in', run);
