// A new user joins the webhooks example's members app through its first-login form, with a real
// headless Chromium, then signs out and in again, going straight in.
//
//   node tests/node/browser-first-login.mjs http://localhost:PORT/ [--stop-on-stdin-close]
//
// The app must be `logi_examples::webhooks::app` behind a layer built with
// `members::with_first_login` (no member yet), its provider in interactive mode on another site
// (127.0.0.1). Prints one JSON line of results on stdout and exits 0; on any failure prints
// `browser-first-login: FAILED: …` on stderr and exits 1. The launch, the bounds and the options
// are chromium.mjs's.

import { SESSION_COOKIE, check, main, redact } from './chromium.mjs';

const USER = { sub: 'user-0001', email: 'ada@example.com', name: 'Ada Lovelace' };
/** The display name typed into the form: not ASCII, and with characters HTML must escape, so
 * that the browser's form encoding and the app's escaping both show. */
const DISPLAY_NAME = 'Gräfin Ada & <Co>';

async function run({ app, open }) {
  const { context, page, navigations, onApp, onProvider, cookieNamed, text, screenshot, finish } = await open();
  const since = (start) => navigations.slice(start);

  /** From the home page's "Sign in with logi" through the provider's page, choosing USER, until
   * the app's `landing` page has loaded; the navigations from the provider's button on. */
  const signIn = async (landing) => {
    check(await page.locator('#sign-in').isVisible(), `no #sign-in on ${page.url()}`);
    await Promise.all([page.waitForURL(onProvider('/oauth/authorize')), page.click('#sign-in')]);
    check(new URL(page.url()).hostname === '127.0.0.1',
      `the provider should be on 127.0.0.1 (another site than localhost), not ${page.url()}`);
    check((await page.title()).startsWith('Sign in'), `the provider's page is titled "${await page.title()}"`);
    const user = page.locator(`button[name="user"][value="${USER.sub}"]`);
    check(await user.isVisible(), `the provider's page has no button for ${USER.sub}`);
    const provider = new URL(page.url()).origin;
    const start = navigations.length;
    await Promise.all([page.waitForURL(onApp(landing), { waitUntil: 'load' }), user.click()]);
    return { provider, navigations: since(start) };
  };

  // 1. The home page, signed out; signing in as a new user ends on the first-login form.
  const response = await page.goto(app.href, { waitUntil: 'load' });
  check(response?.status() === 200, `home page answered ${response?.status()}`);
  const first = await signIn('/welcome');
  const { provider } = first;
  check(await page.title() === 'Welcome', `after the first sign-in the page is titled "${await page.title()}"`);
  const nameInput = page.locator('input[name="display_name"]');
  const terms = page.locator('input[name="terms"]');
  const form = {
    sub: await text('#sub'),
    email: await text('#email'),
    display_name: await nameInput.inputValue(),
    terms_checked: await terms.isChecked(),
  };
  const pendingCookie = await cookieNamed(SESSION_COOKIE);
  check(pendingCookie, `no ${SESSION_COOKIE} cookie holds the pending sign-in`);

  // 2. Not signed in yet: the protected /account sends the browser back to the form, and the
  //    home page still offers to sign in.
  let start = navigations.length;
  await page.goto(new URL('/account', app).href, { waitUntil: 'load' });
  const accountWhilePending = since(start);
  check(onApp('/welcome')(new URL(page.url())), `/account while pending ended at ${page.url()}`);
  await page.goto(app.href, { waitUntil: 'load' });
  const homeWhilePending = await page.locator('#sign-in').isVisible();
  await page.goto(new URL('/welcome', app).href, { waitUntil: 'load' });

  // 3. The form, filled in as a person would. The browser itself refuses to send it until the
  //    terms are accepted (`required`).
  await nameInput.fill(DISPLAY_NAME);
  const formElement = page.locator('form[action="/welcome"]');
  const validBeforeTerms = await formElement.evaluate((f) => f.checkValidity());
  await terms.check();
  const validAfterTerms = await formElement.evaluate((f) => f.checkValidity());

  // 4. "Join": a same-origin POST from Chromium, with the headers Chromium sets itself.
  const answered = page.waitForResponse((r) => r.request().method() === 'POST' && onApp('/welcome')(new URL(r.url())));
  start = navigations.length;
  await page.click('#join');
  const joinResponse = await answered;
  const joinRequest = joinResponse.request();
  const headers = await joinRequest.allHeaders();
  check(joinResponse.status() === 303,
    `joining answered ${joinResponse.status()}, not a 303 (sent with Origin ${headers.origin}, Sec-Fetch-Site ${headers['sec-fetch-site']})`);
  await page.waitForURL(onApp('/account'), { waitUntil: 'load' });
  const join = {
    origin: headers.origin ?? null,
    sec_fetch_site: headers['sec-fetch-site'] ?? null,
    sec_fetch_mode: headers['sec-fetch-mode'] ?? null,
    content_type: headers['content-type'] ?? null,
    body: joinRequest.postData(),
    navigations: since(start),
  };
  check(await page.title() === 'Your account', `after joining the page is titled "${await page.title()}"`);
  const account = { name: await text('#name'), email: await text('#email'), sub: await text('#sub') };
  const session = await cookieNamed(SESSION_COOKIE);
  check(session, `no ${SESSION_COOKIE} cookie after joining`);
  const accountScreenshot = await screenshot('account.png');

  // 5. "Sign out": through the provider's end-session endpoint back to the home page.
  start = navigations.length;
  await Promise.all([page.waitForURL(onApp('/'), { waitUntil: 'load' }), page.click('#sign-out')]);
  const signOut = since(start);
  check(!(await cookieNamed(SESSION_COOKIE)), `${SESSION_COOKIE} survived sign-out`);

  // 6. Signing in again: a member now, straight to /account.
  const second = await signIn('/account');
  const accountAgain = { name: await text('#name'), email: await text('#email'), sub: await text('#sub') };

  const { chromium, elapsed_ms } = finish();
  return {
    ok: true,
    chromium,
    app: app.href,
    provider,
    display_name: DISPLAY_NAME,
    first_sign_in: first.navigations,
    form,
    pending_cookie: { http_only: pendingCookie.httpOnly, secure: pendingCookie.secure, same_site: pendingCookie.sameSite },
    account_while_pending: accountWhilePending,
    home_offers_sign_in_while_pending: homeWhilePending,
    form_valid_before_terms: validBeforeTerms,
    form_valid_after_terms: validAfterTerms,
    join,
    account,
    sign_out: signOut,
    second_sign_in: second.navigations,
    account_again: accountAgain,
    ended_at: redact(page.url()),
    screenshot: accountScreenshot,
    navigations,
    elapsed_ms,
  };
}

await main('browser-first-login', run);
