// Browser test of the dashboard against a running platform (started by run.sh): headless
// Chromium (the system's /usr/bin/chromium, never a downloaded one) driven by playwright-core.
//
// A trader signs in, sees the overview, sees the alert, account and position a TradingView
// signal leads to appear on the open overview (with the wasm client, without a reload),
// watches a live price change and the candlestick chart follow the trades, halts all trading after confirming, sees the halted state and new
// orders refused (the order a signal leads to, and one from the dashboard's order ticket after
// its confirmation step), resumes and signs out;
// the wasm client hydrates the Markets price, the Overview and the top bar, which then show a
// halt, a resume and a working order made through the engine's API without a reload;
// the trader sees a backtest the engine refuses explained by the form, then starts one over bars
// run.sh imported and sees it succeed with its metrics, equity chart and trades, and a long one
// whose progress the page follows; the overview shows the accounts' equity and P&L today and the
// recent alerts, Markets each symbol's day change, Orders filters and the fills;
// a viewer sees no emergency controls and is refused (403); an admin stops and starts a strategy,
// changes its parameters (a refusal by the engine shown on the form) and an account's risk limits, then sees the change in the audit log. Screenshots of each step go to
// SCREENSHOT_DIR. Prints the measured live-update latency (tick time to on-screen), the time
// from posting a signal to its alert on the open overview, and a closing
// "N passed, N failed" line.
//
// Environment: BASE_URL, TRADER_USER, VIEWER_USER, ADMIN_USER, USER_PASSWORD, ENGINE_URL, ENGINE_API_TOKEN,
// DATA_SERVICE_URL, SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium), E2E_WITHOUT_WASM (below).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is required`);
  return v;
};
const BASE = env("BASE_URL");
const SHOTS = env("SCREENSHOT_DIR");
const PASSWORD = env("USER_PASSWORD");
// E2E_WITHOUT_WASM=1: the trader's browser cannot fetch the wasm client, so the run checks that
// everything works server-rendered and the Markets price stays live through /assets/live.js.
const WITHOUT_WASM = process.env.E2E_WITHOUT_WASM === "1";
mkdirSync(SHOTS, { recursive: true });

let passed = 0;
let failed = 0;
const results = [];
async function step(name, fn) {
  try {
    await fn();
    passed += 1;
    results.push(`ok   ${name}`);
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    results.push(`FAIL ${name}: ${e.message}`);
    console.log(`FAIL ${name}: ${e.stack || e}`);
    throw e;
  }
}
function expect(cond, message) {
  if (!cond) throw new Error(message);
}

// playwright-core gives the browser a fresh temporary profile (--user-data-dir) of its own.
const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
  ],
});

// The engine's API with the dashboard's token; the webhook needs none (the passphrase is the key).
async function engine(method, path, body) {
  const r = await fetch(`${env("ENGINE_URL")}${path}`, {
    method,
    headers: { authorization: `Bearer ${env("ENGINE_API_TOKEN")}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
// A strategy of its own, on an account of its own, so the demo strategies' positions and orders
// cannot be mistaken for what the signal caused.
const SIGNAL_STRATEGY = "e2e-tv";
const SIGNAL_ACCOUNT = "e2e-signals";
const SIGNAL_PASSPHRASE = `pass-${Date.now()}`;
async function signal(action) {
  return engine("POST", "/api/v1/signals/tradingview", {
    passphrase: SIGNAL_PASSPHRASE, strategy: SIGNAL_STRATEGY, ticker: "ETHUSD", action, quantity: "2",
    alert_id: `e2e-${action}-${Date.now()}`, time: new Date().toISOString(),
  });
}
const signalRows = (page, selector) => page.locator(`${selector} tbody tr`, { hasText: SIGNAL_STRATEGY });

async function signIn(page, username) {
  await page.goto(`${BASE}/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await Promise.all([page.waitForURL(`${BASE}/`), page.click("#sign-in")]);
}

let exitCode = 0;
try {
  const trader = await browser.newContext({ viewport: { width: 1366, height: 800 } });
  if (WITHOUT_WASM) await trader.route("**/pkg/**", (route) => route.abort());
  const page = await trader.newPage();

  await step("the sign-in page is shown to a visitor", async () => {
    const response = await page.goto(`${BASE}/`);
    expect(page.url() === `${BASE}/login`, `expected a redirect to /login, at ${page.url()}`);
    expect(response.ok(), "sign-in page answers 200");
    await page.screenshot({ path: join(SHOTS, "01-sign-in.png"), fullPage: true });
  });

  await step("a wrong password is refused", async () => {
    await page.getByLabel("Username").fill(env("TRADER_USER"));
    await page.getByLabel("Password").fill("not the password");
    await page.click("#sign-in");
    await page.waitForSelector("#login-error");
    expect((await page.textContent("#login-error")).includes("Wrong username or password"), "error shown");
    await page.screenshot({ path: join(SHOTS, "02-sign-in-wrong-password.png"), fullPage: true });
  });

  await step("the trader signs in and sees the overview", async () => {
    await signIn(page, env("TRADER_USER"));
    await page.waitForSelector("#health");
    const health = await page.textContent("#health");
    for (const s of ["engine ready", "data-service ready", "dashboard ready"]) {
      expect(health.includes(s), `health shows "${s}": ${health}`);
    }
    expect((await page.textContent("#trading-state")).includes("Trading active"), "trading is active");
    expect(await page.isVisible("#halt-all"), "HALT ALL is visible to a trader");
    await page.screenshot({ path: join(SHOTS, "03-overview.png"), fullPage: true });
  });

  await step("a position appears on the overview after a TradingView signal", async () => {
    const created = await engine("POST", "/api/v1/strategies", {
      name: SIGNAL_STRATEGY, kind: "signal_follower", params: { quantity: "1" }, account: SIGNAL_ACCOUNT,
      symbols: ["ETHUSD"], bar_seconds: 60, passphrase: SIGNAL_PASSPHRASE, enabled: true,
    });
    expect(created.status === 201, `strategy created: ${created.status} ${JSON.stringify(created.body)}`);
    expect(!(await page.textContent("main")).includes(SIGNAL_STRATEGY), "no alert or position of the new strategy before the signal");
    // With the wasm client this overview, open since before the signal, shows its alert, account
    // and position without a reload.
    let navigations = 0;
    const countNavigation = (frame) => { if (frame === page.mainFrame()) navigations += 1; };
    if (!WITHOUT_WASM) {
      await page.waitForSelector('#overview-live[data-client="wasm"]', { timeout: 20000 });
      page.on("framenavigated", countNavigation);
    }
    let accepted;
    let posted;
    for (let i = 0; i < 50; i += 1) {
      posted = Date.now();
      accepted = await signal("buy");
      if (accepted.status !== 409) break; // the strategy is still starting
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(accepted.status === 202, `signal accepted: ${accepted.status} ${JSON.stringify(accepted.body)}`);
    if (!WITHOUT_WASM) {
      await signalRows(page, "#alerts").first().waitFor({ timeout: 10000 });
      const shown = Date.now();
      await page.locator(`#account-${SIGNAL_ACCOUNT}`).waitFor({ timeout: 15000 });
      await signalRows(page, "#positions").first().waitFor({ timeout: 15000 });
      page.off("framenavigated", countNavigation);
      expect(navigations === 0, `the alert, account and position appeared in place (${navigations} navigations)`);
      const cells = await signalRows(page, "#alerts").first().locator("td").allTextContents();
      expect(cells[2] === "ETHUSD" && cells[3] === "buy", `live alert row: ${cells.join(" | ")}`);
      console.log(`live alert latency (signal posted -> alert on the open overview): ${shown - posted} ms`);
      await page.screenshot({ path: join(SHOTS, "04a-overview-live-alert.png"), fullPage: true });
    }
    // The webhook answers once the signal is stored; the strategy's order and fill follow, so
    // without the wasm client the overview is reloaded until the position is there.
    const deadline = Date.now() + 15000;
    let row = "";
    while (Date.now() < deadline) {
      if (WITHOUT_WASM) await page.goto(`${BASE}/`);
      const rows = signalRows(page, "#positions");
      if ((await rows.count()) > 0) {
        row = await rows.first().textContent();
        break;
      }
      await page.waitForTimeout(300);
    }
    expect(row.includes(SIGNAL_ACCOUNT) && row.includes("ETHUSD"), `position row for the signal: ${row || "none"}`);
    const qty = await signalRows(page, "#positions").first().locator("td").nth(3).textContent();
    expect(qty.trim() === "2", `position quantity is the signal's 2, got ${qty}`);
    await page.screenshot({ path: join(SHOTS, "04-position-after-signal.png"), fullPage: true });
  });

  await step("the overview shows each account's equity and P&L today, and the signal among the recent alerts", async () => {
    await page.goto(`${BASE}/`);
    // The alert the buy above was: time, strategy, ticker, action and what became of it.
    const alert = page.locator("#alerts tbody tr", { hasText: SIGNAL_STRATEGY }).first();
    const cells = await alert.locator("td").allTextContents();
    expect(cells[1] === SIGNAL_STRATEGY && cells[2] === "ETHUSD" && cells[3] === "buy", `alert row: ${cells.join(" | ")}`);
    expect(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(cells[0]), `alert time: ${cells[0]}`);
    expect(/^(pending|processed|ignored|failed)/.test(cells[4]), `alert status: ${cells[4]}`);
    expect((await page.locator("#alerts tbody tr").count()) <= 10, "at most ten alerts");
    // The signal account's P&L as the engine reports it: realized P&L does not move with the
    // price, so the page's must be the engine's; equity is a number.
    const row = page.locator(`#account-${SIGNAL_ACCOUNT} td`);
    const pnl = (await engine("GET", `/api/v1/pnl?account=${SIGNAL_ACCOUNT}`)).body;
    const realized = (await row.nth(4).textContent()).trim();
    expect(realized === pnl.realized_pnl, `realized P&L on the page ${realized}, the engine's ${pnl.realized_pnl}`);
    const realizedToday = (await row.nth(3).textContent()).trim();
    expect(realizedToday === pnl.realized_today, `realized today ${realizedToday}, the engine's ${pnl.realized_today}`);
    const equity = (await row.nth(1).textContent()).trim();
    expect(/^-?\d+(\.\d+)?$/.test(equity), `equity is a number: ${equity}`);
    // P&L today needs an equity sample from before midnight, which a fresh database has not.
    const today = (await row.nth(2).textContent()).trim();
    expect(today === "—" || /^-?\d+(\.\d+)?$/.test(today), `P&L today: ${today}`);
    await page.locator("#accounts").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, "28-overview-accounts-alerts.png"), fullPage: true });
  });

  const latencies = [];
  await step("the live price changes on the markets page", async () => {
    await page.goto(`${BASE}/markets?symbol=BTCUSD`);
    await page.waitForSelector("#live-price");
    const first = await page.textContent("#live-price");
    await page.exposeFunction("recordLatency", (ms) => latencies.push(ms));
    await page.evaluate(() => {
      const price = document.getElementById("live-price");
      const ts = document.getElementById("live-ts");
      new MutationObserver(() => {
        const t = Date.parse(ts.getAttribute("datetime") || "");
        if (!Number.isNaN(t)) window.recordLatency(Date.now() - t);
      }).observe(price, { childList: true, characterData: true, subtree: true });
    });
    await page.waitForFunction((p) => document.getElementById("live-price").textContent !== p, first, { timeout: 15000 });
    await page.waitForFunction(() => document.getElementById("live-status").textContent === "live");
    await page.waitForTimeout(5000); // collect latency samples
    // The chart section is there; whether it has candles depends on whether the synthetic feed
    // has closed a 1-minute bar yet, so the count is printed, not asserted.
    expect(await page.isVisible("#chart"), "the candlestick chart section is shown");
    console.log(`chart: ${await page.locator("#chart g.candle").count()} candles of BTCUSD 1m`);
    await page.screenshot({ path: join(SHOTS, "05-markets-live.png"), fullPage: true });
    expect(latencies.length > 0, "latency samples were taken");
  });
  if (latencies.length > 0) {
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    console.log(`live-update latency (tick ts -> on screen): n=${sorted.length} p50=${pct(50)} ms p95=${pct(95)} ms max=${sorted[sorted.length - 1]} ms`);
  }
  await step("the candlestick chart follows the trades on the markets page", async () => {
    // The synthetic feed's bars reach the data-service's store within seconds; until then the
    // page says there are none.
    await page.goto(`${BASE}/markets?symbol=BTCUSD`);
    for (let i = 0; i < 20 && (await page.locator("#chart g.candle").count()) === 0; i += 1) {
      await page.waitForTimeout(1000);
      await page.reload();
    }
    const candles = page.locator("#chart g.candle");
    const count = await candles.count();
    expect(count > 0, "the chart has candles");
    const lastTitle = () => page.locator("#chart g.candle").last().locator("title").textContent();
    const before = await lastTitle();
    expect(/^\d{4}-\d\d-\d\d \d\d:\d\d O [\d.]+ H [\d.]+ L [\d.]+ C [\d.]+ V [\d.]+$/.test(before), `last candle: ${before}`);
    if (WITHOUT_WASM) {
      // Server-rendered only: the chart stays as loaded.
      expect((await page.getAttribute("#chart", "data-client")) === null, "the chart is not hydrated");
      await page.screenshot({ path: join(SHOTS, "37-markets-live-chart.png"), fullPage: true });
      return;
    }
    await page.waitForSelector('#chart[data-client="wasm"]', { timeout: 20000 });
    let navigations = 0;
    const countNavigation = (frame) => { if (frame === page.mainFrame()) navigations += 1; };
    page.on("framenavigated", countNavigation);
    const started = Date.now();
    await page.waitForFunction(
      (t) => {
        const all = document.querySelectorAll("#chart g.candle title");
        return all.length > 0 && all[all.length - 1].textContent !== t;
      },
      before,
      { timeout: 15000 },
    );
    const after = await lastTitle();
    page.off("framenavigated", countNavigation);
    expect(navigations === 0, "no reload");
    // The same candle changed, or a new one opened: the chart then keeps its number of candles
    // once it holds 120 (or a day of them), and grows by one before that, like a reload.
    const now = await candles.count();
    const opened = after.slice(0, 16) !== before.slice(0, 16);
    expect(after.slice(0, 16) >= before.slice(0, 16), `the last candle is not older: ${before} -> ${after}`);
    expect(now === count || (opened && count < 120 && now === count + 1), `${count} candles, then ${now}`);
    const close = / C ([\d.]+) /.exec(after)[1];
    console.log(`chart: last candle ${before} -> ${after} after ${Date.now() - started} ms (live price ${await page.textContent("#live-price")}, close ${close})`);
    await page.screenshot({ path: join(SHOTS, "37-markets-live-chart.png"), fullPage: true });
  });
  // Exact decimal arithmetic for the checks (no floats): a decimal text as a BigInt of 10^-12.
  const SCALE = 12;
  const scaled = (text) => {
    const negative = text.startsWith("-");
    const [int, frac = ""] = text.replace(/^[-+]/, "").split(".");
    const value = BigInt(int + frac.padEnd(SCALE, "0").slice(0, SCALE));
    return negative ? -value : value;
  };
  const unscaled = (value) => {
    const negative = value < 0n;
    const digits = (negative ? -value : value).toString().padStart(SCALE + 1, "0");
    const frac = digits.slice(-SCALE).replace(/0+$/, "");
    return `${negative ? "-" : ""}${digits.slice(0, -SCALE)}${frac ? `.${frac}` : ""}`;
  };
  await step("the markets list shows each symbol's change over the day in exact decimals", async () => {
    await page.goto(`${BASE}/markets`);
    const cells = await page.locator("#symbol-BTCUSD td").allTextContents();
    const [last, day] = [cells[1].trim(), cells[2].trim()];
    const m = /^([+-]?\d+(?:\.\d+)?) \(([+-]?\d+(?:\.\d+)?)%\)$/.exec(day);
    expect(m, `BTCUSD's day change reads "change (percent%)": ${day}`);
    // The reference is the previous UTC day's close, or today's first price without one.
    const midnight = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z");
    const yesterday = new Date(midnight.getTime() - 86400000);
    const r = await fetch(`${env("DATA_SERVICE_URL")}/api/v1/market/bars/BTCUSD?interval=1d&start=${yesterday.toISOString()}`);
    const bars = (await r.json()).bars;
    const previous = bars.find((b) => Date.parse(b.ts) === yesterday.getTime());
    const todays = bars.find((b) => Date.parse(b.ts) === midnight.getTime());
    const reference = String(previous ? previous.close : todays.open);
    const expected = unscaled(scaled(last) - scaled(reference));
    expect(m[1].replace(/^\+/, "") === expected, `change ${m[1]} = last ${last} - reference ${reference} = ${expected}`);
    const sign = (t) => (t.startsWith("-") ? -1 : /^[+]?0(\.0+)?$/.test(t) ? 0 : 1);
    expect(sign(m[1]) === sign(m[2]) || sign(m[2]) === 0, `change and percent agree in sign: ${day}`);
    // E2EBT's bars are of 2026-01-05 only: no trade today, a dash.
    expect((await page.locator("#symbol-E2EBT td").nth(2).textContent()).trim() === "—", "no day change without a trade today");
    await page.screenshot({ path: join(SHOTS, "34-markets-day-change.png"), fullPage: true });
  });


  await step("the orders page lists orders and exports them as CSV", async () => {
    await page.goto(`${BASE}/orders`);
    await page.waitForSelector("h1");
    const csv = await page.request.get(`${BASE}/orders/export.csv`);
    const text = await csv.text();
    expect(csv.ok() && text.startsWith("order_id,created_at,account"), `CSV answered ${csv.status()}`);
    expect(text.includes(`${SIGNAL_ACCOUNT},${SIGNAL_STRATEGY},ETHUSD,buy,market`), `the signal's order is in the CSV: ${text.slice(0, 300)}`);
    await page.screenshot({ path: join(SHOTS, "06-orders.png"), fullPage: true });
  });

  await step("orders are filtered by status, symbol, strategy and account; a bad filter is explained; fills are listed, filtered by date range and exported", async () => {
    await page.goto(`${BASE}/orders`);
    await page.selectOption("#f-status", "filled");
    await page.fill("#f-symbol", "ethusd");
    await page.fill("#f-strategy", SIGNAL_STRATEGY);
    await page.fill("#f-account", SIGNAL_ACCOUNT);
    await Promise.all([page.waitForURL(/\/orders\?/), page.click("#apply-filters")]);
    const url = new URL(page.url());
    expect(url.searchParams.get("strategy") === SIGNAL_STRATEGY && url.searchParams.get("status") === "filled",
      `the filters are in the URL: ${page.url()}`);
    expect((await page.inputValue("#f-strategy")) === SIGNAL_STRATEGY && (await page.inputValue("#f-symbol")) === "ETHUSD",
      "the form keeps the filters");
    const engineOrders = (await engine("GET", `/api/v1/orders?strategy=${SIGNAL_STRATEGY}&account=${SIGNAL_ACCOUNT}&symbol=ETHUSD&status=filled`)).body.orders;
    const rows = await page.locator("table.orders tbody tr").allTextContents();
    expect(engineOrders.length > 0 && rows.length === engineOrders.length,
      `${rows.length} rows for the engine's ${engineOrders.length} filled orders of ${SIGNAL_STRATEGY}`);
    expect(rows.every((r) => r.includes(SIGNAL_STRATEGY) && r.includes("ETHUSD") && r.includes("filled")), `only matching rows: ${rows}`);
    // The export and the paging links carry the same filters.
    const csvHref = await page.getAttribute("#export-csv", "href");
    const csv = await (await page.request.get(`${BASE}${csvHref}`)).text();
    const lines = csv.trim().split("\r\n");
    expect(lines.length === engineOrders.length + 1 && lines.slice(1).every((l) => l.includes(`,${SIGNAL_STRATEGY},ETHUSD,`)),
      `the CSV holds the filtered orders only: ${csvHref} ${csv.slice(0, 300)}`);
    await page.screenshot({ path: join(SHOTS, "29-orders-filtered.png"), fullPage: true });
    await page.goto(`${BASE}/orders?strategy=${SIGNAL_STRATEGY}&before=${engineOrders[0].order_id + 1}`);
    const newest = new URL(await page.getAttribute("#newest", "href"), BASE);
    expect(newest.searchParams.get("strategy") === SIGNAL_STRATEGY && !newest.searchParams.has("before"),
      `"Newest" keeps the filter: ${newest}`);
    // A filter that cannot be right is explained on the page, with what was typed kept.
    const bad = await page.goto(`${BASE}/orders?symbol=${encodeURIComponent("ETH USD")}&status=filled`);
    expect(bad.status() === 400, `a bad filter answers 400, got ${bad.status()}`);
    const error = await page.textContent("#filter-error");
    expect(error.includes("Symbol"), `the error names the field: ${error}`);
    expect((await page.inputValue("#f-symbol")) === "ETH USD", "the bad value is kept in the form");
    await page.screenshot({ path: join(SHOTS, "30-orders-filter-error.png"), fullPage: true });
    // Fills: the signal's buy, as the engine has it, on the fills page and in its CSV.
    await page.click("#fills-link");
    await page.waitForURL(`${BASE}/fills`);
    await page.fill("#f-strategy", SIGNAL_STRATEGY);
    await Promise.all([page.waitForURL(/\/fills\?/), page.click("#apply-filters")]);
    const engineFills = (await engine("GET", `/api/v1/fills?strategy=${SIGNAL_STRATEGY}`)).body;
    expect(engineFills.length > 0, "the engine has the signal's fill");
    const fillRow = await page.locator(`#fill-${engineFills[0].fill_id} td`).allTextContents();
    expect(fillRow[5] === "ETHUSD" && fillRow[6] === "buy" && fillRow[7] === engineFills[0].qty && fillRow[8] === engineFills[0].price,
      `fill row ${fillRow.join(" | ")} vs the engine's ${JSON.stringify(engineFills[0])}`);
    expect((await page.locator("#fills tbody tr").count()) === Math.min(engineFills.length, 50), "one row per fill");
    const fillsCsv = await (await page.request.get(`${BASE}${await page.getAttribute("#export-fills-csv", "href")}`)).text();
    expect(fillsCsv.startsWith("fill_id,ts,order_id") && fillsCsv.includes(engineFills[0].exec_id), `fills CSV: ${fillsCsv.slice(0, 300)}`);
    await page.screenshot({ path: join(SHOTS, "31-fills.png"), fullPage: true });
    // A date range of today (UTC, both days included) keeps the signal's fill; one that ends
    // before it starts is explained with what was typed kept, the engine not asked.
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    await page.fill("#f-from", today);
    await page.fill("#f-until", today);
    await Promise.all([page.waitForURL(/until=/), page.click("#apply-filters")]);
    expect(await page.isVisible(`#fill-${engineFills[0].fill_id}`), `today's range keeps the fill: ${page.url()}`);
    const badRange = await page.goto(`${BASE}/fills?strategy=${SIGNAL_STRATEGY}&from=${tomorrow}&until=${today}`);
    expect(badRange.status() === 400, `a range ending before it starts answers 400, got ${badRange.status()}`);
    const rangeError = await page.textContent("#filter-error");
    expect(rangeError.includes(`From (${tomorrow}) must be on or before Until (${today})`), `the range is explained: ${rangeError}`);
    expect((await page.inputValue("#f-from")) === tomorrow && (await page.inputValue("#f-until")) === today, "the typed days are kept");
    await page.screenshot({ path: join(SHOTS, "38-fills-range-error.png"), fullPage: true });
  });

  await step("HALT ALL asks for confirmation, then halts", async () => {
    await page.goto(`${BASE}/`);
    await Promise.all([page.waitForURL(`${BASE}/halt/confirm`), page.click("#halt-all")]);
    await page.screenshot({ path: join(SHOTS, "07-halt-confirm.png"), fullPage: true });
    await page.fill("#reason", "browser test halt");
    await Promise.all([page.waitForURL(`${BASE}/`), page.click("#confirm-halt")]);
    await page.waitForSelector("#halt-banner");
    expect((await page.textContent("#trading-state")).includes("HALTED"), "the state says HALTED");
    const banner = await page.textContent("#halt-banner");
    expect(banner.includes("browser test halt") && banner.includes(env("TRADER_USER")), `banner says who and why: ${banner}`);
    await page.screenshot({ path: join(SHOTS, "08-halted.png"), fullPage: true });
  });

  await step("while halted the order a signal leads to and an order from the ticket are refused", async () => {
    await page.goto(`${BASE}/`);
    await page.screenshot({ path: join(SHOTS, "09-overview-halted-with-position.png"), fullPage: true });
    const accepted = await signal("sell");
    expect(accepted.status === 202, `signal accepted: ${accepted.status} ${JSON.stringify(accepted.body)}`);
    const deadline = Date.now() + 15000;
    let refused = "";
    while (Date.now() < deadline) {
      await page.goto(`${BASE}/orders`);
      const rows = signalRows(page, "table.orders").filter({ hasText: "sell" });
      if ((await rows.count()) > 0) {
        refused = await rows.first().textContent();
        break;
      }
      await page.waitForTimeout(300);
    }
    expect(refused.includes("rejected"), `the signal's sell order is listed as rejected: ${refused || "no order"}`);
    // The trader's own order, through the dashboard's ticket and its confirmation step.
    await page.click("#new-order");
    await page.waitForURL(`${BASE}/orders/new`);
    await page.fill("#symbol", "btcusd");
    await page.fill("#qty", "1");
    await page.screenshot({ path: join(SHOTS, "10-order-ticket.png"), fullPage: true });
    await Promise.all([page.waitForURL(`${BASE}/orders/confirm`), page.click("#review-order")]);
    const summary = await page.textContent("#order-summary");
    expect(summary.includes("buy 1 BTCUSD on account demo, market"), `confirmation repeats the order: ${summary}`);
    await page.screenshot({ path: join(SHOTS, "11-order-ticket-confirm.png"), fullPage: true });
    await Promise.all([page.waitForURL(`${BASE}/orders`), page.click("#confirm-order")]);
    const first = await page.locator("table.orders tbody tr").first().textContent();
    expect(first.includes("manual") && first.includes("BTCUSD") && first.includes("rejected (halted)"),
      `the ticket's order is listed first, rejected: ${first}`);
    await page.screenshot({ path: join(SHOTS, "12-orders-refused-while-halted.png"), fullPage: true });
  });

  await step("the refused order's detail shows its event log", async () => {
    await Promise.all([page.waitForURL(/\/orders\/\d+$/), page.locator("table.orders tbody tr").first().locator("a").click()]);
    expect((await page.textContent("#order-status")).includes("rejected"), "status rejected");
    const events = await page.textContent("#order-events");
    expect(events.includes("halted"), `the event log says why: ${events}`);
    await page.screenshot({ path: join(SHOTS, "13-order-detail-rejected.png"), fullPage: true });
  });

  await step("resume asks for confirmation, then trading is active again", async () => {
    await page.goto(`${BASE}/`);
    await Promise.all([page.waitForURL(`${BASE}/resume/confirm`), page.click("#resume")]);
    await page.screenshot({ path: join(SHOTS, "14-resume-confirm.png"), fullPage: true });
    await Promise.all([page.waitForURL(`${BASE}/`), page.click("#confirm-resume")]);
    expect((await page.textContent("#trading-state")).includes("Trading active"), "trading is active again");
    await page.screenshot({ path: join(SHOTS, "15-resumed.png"), fullPage: true });
  });

  await step("a working limit order from the ticket is cancelled from its detail page", async () => {
    await page.goto(`${BASE}/orders/new`);
    await page.fill("#symbol", "BTCUSD");
    await page.fill("#qty", "1");
    // Far below the market, so it rests on the paper venue until cancelled.
    await page.fill("#limit_price", "0.01");
    await Promise.all([page.waitForURL(`${BASE}/orders/confirm`), page.click("#review-order")]);
    await Promise.all([page.waitForURL(`${BASE}/orders`), page.click("#confirm-order")]);
    const row = page.locator("table.orders tbody tr").first();
    expect((await row.textContent()).includes("limit 0.01"), `the limit order is listed first: ${await row.textContent()}`);
    await Promise.all([page.waitForURL(/\/orders\/\d+$/), row.locator("a").click()]);
    const url = page.url();
    for (let i = 0; i < 50 && !(await page.isVisible("#cancel-order")); i += 1) {
      await page.waitForTimeout(200); // until the venue has accepted it
      await page.goto(url);
    }
    const before = await page.textContent("#order-status");
    expect(await page.isVisible("#cancel-order"), `a working order has a cancel button (status ${before})`);
    await page.screenshot({ path: join(SHOTS, "16-order-detail-working.png"), fullPage: true });
    await Promise.all([page.waitForURL(url), page.click("#cancel-order")]);
    let status = "";
    for (let i = 0; i < 50; i += 1) {
      status = await page.textContent("#order-status");
      if (status.startsWith("cancelled")) break;
      await page.waitForTimeout(200);
      await page.goto(url);
    }
    expect(status.startsWith("cancelled"), `the order is cancelled: ${status}`);
    expect(!(await page.isVisible("#cancel-order")), "no cancel button once cancelled");
    await page.screenshot({ path: join(SHOTS, "17-order-detail-cancelled.png"), fullPage: true });
  });

  const hydrationStep = WITHOUT_WASM
    ? "without the wasm client the pages stay server-rendered and the markets price stays live through live.js"
    : "the wasm client hydrates the markets price, the overview and the top bar, which follow the engine without a reload";
  await step(hydrationStep, async () => {
    // Markets: the island is hydrated (only the wasm client sets data-client) and the price
    // it shows moves.
    await page.goto(`${BASE}/markets?symbol=BTCUSD`);
    if (WITHOUT_WASM) {
      await page.waitForSelector('html[data-client="none"]', { timeout: 20000 });
      expect((await page.getAttribute("#live", "data-client")) === null, "no island is hydrated");
      const fallbackPrice = await page.textContent("#live-price");
      await page.waitForFunction((p) => document.getElementById("live-price").textContent !== p, fallbackPrice, { timeout: 15000 });
      return; // the price moves through live.js; the overview updates on reload only
    }
    await page.waitForSelector('#live[data-client="wasm"]', { timeout: 20000 });
    expect((await page.getAttribute("html", "data-client")) === "wasm", "the page says the wasm client runs");
    const price = await page.textContent("#live-price");
    await page.waitForFunction((p) => document.getElementById("live-price").textContent !== p, price, { timeout: 15000 });
    // Overview: halts and working orders made through the engine's API, not this page, appear
    // on it without a navigation.
    await page.goto(`${BASE}/`);
    await page.waitForSelector('#overview-live[data-client="wasm"]', { timeout: 20000 });
    await page.waitForSelector('header.topbar[data-client="wasm"]', { timeout: 20000 });
    let navigations = 0;
    const countNavigation = (frame) => { if (frame === page.mainFrame()) navigations += 1; };
    page.on("framenavigated", countNavigation);
    const trading = () => page.textContent("#overview-trading");
    expect((await trading()).includes("Trading active"), `trading active first: ${await trading()}`);
    const halted = await engine("POST", "/api/v1/halt", { scope: "all", reason: "e2e live overview", flatten: false });
    expect(halted.status < 300, `halt through the engine: ${halted.status} ${JSON.stringify(halted.body)}`);
    await page.waitForFunction(() => document.getElementById("overview-trading").textContent.includes("HALTED"), null, { timeout: 10000 });
    expect((await page.textContent("#overview-live")).includes("e2e live overview"), "the halt's reason is shown");
    // The top bar, on every page, follows too: state, banner and the resume button.
    await page.waitForFunction(() => document.getElementById("trading-state").textContent.includes("HALTED"), null, { timeout: 10000 });
    expect((await page.textContent("#halt-banner")).includes("e2e live overview"), "the banner says why");
    expect(await page.isVisible("#resume"), "the resume button appears");
    await page.screenshot({ path: join(SHOTS, "24-overview-live-halted.png"), fullPage: true });
    const resumed = await engine("POST", "/api/v1/resume", { scope: "all" });
    expect(resumed.status < 300, `resume through the engine: ${resumed.status}`);
    await page.waitForFunction(() => document.getElementById("overview-trading").textContent.includes("Trading active"), null, { timeout: 10000 });
    await page.waitForFunction(() => document.getElementById("trading-state").textContent.includes("Trading active")
      && !document.getElementById("halt-banner") && !document.getElementById("resume"), null, { timeout: 10000 });
    const clientOrderId = `e2e-live-${Date.now()}`;
    const placed = await engine("POST", "/api/v1/orders", {
      account: "demo", symbol: "BTCUSD", side: "buy", qty: "1", order_type: "limit", limit_price: "0.02",
      client_order_id: clientOrderId,
    });
    expect(placed.status === 201, `order placed through the engine: ${placed.status} ${JSON.stringify(placed.body)}`);
    const orderId = String(placed.body.order_id);
    const workingRow = () => page.locator("#working-orders tbody tr", { hasText: "limit 0.02" });
    await workingRow().first().waitFor({ timeout: 10000 });
    expect((await workingRow().first().locator("td").first().textContent()).trim() === orderId, "the new order is listed by id");
    await page.screenshot({ path: join(SHOTS, "25-overview-live-working-order.png"), fullPage: true });
    let cancelled;
    for (let i = 0; i < 25; i += 1) {
      cancelled = await engine("POST", `/api/v1/orders/${orderId}/cancel`);
      if (cancelled.status < 300) break;
      await page.waitForTimeout(200); // until the venue has accepted it
    }
    expect(cancelled.status < 300, `cancel through the engine: ${cancelled.status} ${JSON.stringify(cancelled.body)}`);
    await workingRow().first().waitFor({ state: "detached", timeout: 10000 });
    page.off("framenavigated", countNavigation);
    expect(navigations === 0, `the overview updated in place (${navigations} navigations)`);
  });

  await step("the strategies page shows the signal strategy's P&L, without controls for a trader", async () => {
    await page.goto(`${BASE}/strategies`);
    const row = await page.textContent(`#strategy-${SIGNAL_STRATEGY}`);
    expect(row.includes("signal_follower") && row.includes("running"), `strategy row: ${row}`);
    // The engine's P&L of the 2 ETHUSD the signal bought: the unrealized cell is a number.
    const unrealized = await page.locator(`#strategy-${SIGNAL_STRATEGY} td`).nth(9).textContent();
    expect(/^-?\d+(\.\d+)?$/.test(unrealized.trim()), `unrealized P&L shown: ${unrealized} in ${row}`);
    expect(!(await page.isVisible(`#disable-${SIGNAL_STRATEGY}`)), "no disable button for a trader");
    await page.screenshot({ path: join(SHOTS, "18-strategies.png"), fullPage: true });
  });

  // The backtest runs over bars run.sh imported for E2EBT (2026-01-05, ten hours of 1-minute bars).
  const fillBacktestForm = async (params) => {
    await page.goto(`${BASE}/backtests`);
    await page.selectOption("#bt-strategy", "sma_cross");
    await page.fill("#bt-params", params);
    await page.fill("#bt-symbol", "E2EBT");
    await page.selectOption("#bt-interval", "1m");
    await page.fill("#bt-from", "2026-01-05T00:00");
    await page.fill("#bt-to", "2026-01-05T10:00");
    await page.fill("#bt-quantity", "1");
  };
  await step("a backtest the engine refuses is explained next to the form", async () => {
    await fillBacktestForm("fast=5, slow=3");
    await Promise.all([page.waitForURL(`${BASE}/backtests`), page.click("#start-backtest")]);
    const error = await page.textContent("#backtest-error");
    expect(error.includes("refused") && error.includes("fast"), `the engine's reason, naming the field: ${error}`);
    expect((await page.inputValue("#bt-symbol")) === "E2EBT", "the form keeps what was typed");
  });

  await step("a trader starts a backtest and sees it succeed with its metrics, chart and trades", async () => {
    await fillBacktestForm("fast=2, slow=3");
    await Promise.all([page.waitForURL(/\/backtests\/[0-9a-f-]{36}$/), page.click("#start-backtest")]);
    const id = page.url().split("/").pop();
    // While the run is queued or running its page follows it (the progress island, or without
    // the wasm client a timer in hydrate.js) and reloads once it has ended.
    let status = "";
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      status = await page.locator("#backtest-status").textContent({ timeout: 5000 }).catch(() => "");
      if (status === "succeeded" || status === "failed") break;
      await page.waitForTimeout(500);
    }
    expect(status === "succeeded", `the run succeeded: ${status} ${await page.textContent("main")}`);
    await page.waitForSelector("#backtest-metrics");
    const job = (await engine("GET", `/api/v1/backtests/${id}`)).body;
    const trips = (await page.textContent("#metric-round_trips td")).trim();
    expect(trips === String(job.summary.round_trips) && job.summary.round_trips > 0,
      `round trips on the page ${trips}, the engine's ${job.summary.round_trips}`);
    const pnl = (await page.textContent("#metric-realized_pnl td")).trim();
    expect(pnl === String(job.summary.realized_pnl), `realized P&L on the page ${pnl}, the engine's ${job.summary.realized_pnl}`);
    expect((await page.textContent("#metric-sharpe td")).trim() !== "", "a Sharpe ratio cell");
    const points = await page.getAttribute("svg.equity polyline.equity-line", "points");
    expect(points && points.split(" ").length > 100, `an equity curve of many points: ${points?.slice(0, 80)}`);
    expect(await page.isVisible("svg.equity polygon.drawdown"), "the drawdown area");
    const rows = await page.locator("#backtest-trades tbody tr").count();
    expect(rows === Math.min(job.summary.round_trips, 500), `${rows} trade rows for ${job.summary.round_trips} round trips`);
    console.log(`backtest ${id}: ${trips} round trips, realized P&L ${pnl}`);
    await page.screenshot({ path: join(SHOTS, "27-backtest-report.png"), fullPage: true });
    await page.goto(`${BASE}/backtests`);
    const listed = await page.textContent(`#backtest-${id}`);
    expect(listed.includes("succeeded") && listed.includes("E2EBT"), `the list shows the run: ${listed}`);
    await page.screenshot({ path: join(SHOTS, "26-backtests.png"), fullPage: true });
  });

  await step("a long backtest's progress is followed on its page, which then shows the results", async () => {
    await page.goto(`${BASE}/backtests`);
    await page.selectOption("#bt-strategy", "sma_cross");
    await page.fill("#bt-params", "fast=20, slow=60");
    await page.fill("#bt-symbol", "E2ELONG");
    await page.selectOption("#bt-interval", "1m");
    await page.fill("#bt-from", "2025-01-01T00:00");
    await page.fill("#bt-to", "2025-07-28T00:00");
    await page.fill("#bt-quantity", "1");
    const [response] = await Promise.all([
      page.waitForResponse((r) => /\/backtests\/[0-9a-f-]{36}$/.test(r.url()) && r.request().method() === "GET"),
      page.click("#start-backtest"),
    ]);
    await page.waitForURL(/\/backtests\/[0-9a-f-]{36}$/);
    expect(response.headers()["refresh"] === undefined, "no Refresh header: the page is not reloaded on a timer by the server");
    let navigations = 0;
    const countNavigation = (frame) => { if (frame === page.mainFrame()) navigations += 1; };
    page.on("framenavigated", countNavigation);
    // The run lasts seconds (300,000 bars): the page shows its progress first.
    expect(await page.isVisible("#backtest-live"), `the run is in progress when its page loads: ${await page.textContent("main")}`);
    await page.screenshot({ path: join(SHOTS, "35-backtest-progress.png"), fullPage: true });
    const seen = [];
    let hydrated = false;
    const deadline = Date.now() + 90000;
    while (Date.now() < deadline) {
      const state = await page.evaluate(() => ({
        live: document.getElementById("backtest-live")?.dataset.client ?? null,
        status: document.getElementById("backtest-live-status")?.textContent ?? null,
        done: !!document.getElementById("backtest-metrics") || !!document.getElementById("backtest-failure"),
      })).catch(() => null); // the page is reloading
      if (state) {
        if (state.live === "wasm") hydrated = true;
        if (state.status && seen[seen.length - 1] !== state.status) seen.push(state.status);
        if (state.done) break;
      }
      await page.waitForTimeout(100);
    }
    page.off("framenavigated", countNavigation);
    console.log(`backtest progress seen on the page: ${seen.join(" -> ")}; ${navigations} reload(s)`);
    expect((await page.textContent("#backtest-status")).trim() === "succeeded", `the run succeeded: ${await page.textContent("main")}`);
    expect(await page.isVisible("#backtest-metrics") && await page.isVisible("svg.equity"), "its results are shown");
    if (WITHOUT_WASM) {
      expect(navigations >= 1, "without the wasm client the page reloads itself until the run ends");
    } else {
      expect(hydrated, "the progress island was hydrated by the wasm client");
      expect(navigations === 1, `the island reloaded the page once, when the run ended (${navigations} reloads)`);
    }
    await page.screenshot({ path: join(SHOTS, "36-backtest-long-report.png"), fullPage: true });
  });

  await step("the trader signs out", async () => {
    await Promise.all([page.waitForURL(`${BASE}/login`), page.click("#sign-out")]);
    const response = await page.goto(`${BASE}/`);
    expect(page.url() === `${BASE}/login`, "signed out: the overview redirects to sign-in");
    expect(response.ok(), "sign-in page");
    await page.screenshot({ path: join(SHOTS, "19-signed-out.png"), fullPage: true });
  });

  await step("a viewer sees no emergency controls or order ticket and can use neither", async () => {
    const viewer = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const vpage = await viewer.newPage();
    await signIn(vpage, env("VIEWER_USER"));
    expect(!(await vpage.isVisible("#halt-all")), "no HALT ALL for a viewer");
    await vpage.screenshot({ path: join(SHOTS, "20-viewer-overview.png"), fullPage: true });
    const response = await vpage.goto(`${BASE}/halt/confirm`);
    expect(response.status() === 403, `viewer gets 403, got ${response.status()}`);
    await vpage.screenshot({ path: join(SHOTS, "21-viewer-forbidden.png"), fullPage: true });
    expect((await vpage.goto(`${BASE}/orders/new`)).status() === 403, "a viewer gets no order ticket");
    expect((await vpage.goto(`${BASE}/strategies/${SIGNAL_STRATEGY}/edit`)).status() === 403, "a viewer cannot change strategies");
    await vpage.goto(`${BASE}/orders`);
    expect(!(await vpage.isVisible("#new-order")), "no New order link for a viewer");
    await viewer.close();
  });

  await step("an admin stops and starts a strategy", async () => {
    const admin = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const apage = await admin.newPage();
    await signIn(apage, env("ADMIN_USER"));
    await apage.goto(`${BASE}/strategies`);
    await Promise.all([apage.waitForURL(`${BASE}/strategies`), apage.click(`#disable-${SIGNAL_STRATEGY}`)]);
    expect((await apage.textContent(`#strategy-${SIGNAL_STRATEGY} .strategy-state`)) === "stopped", "stopped");
    const engineSays = await engine("GET", `/api/v1/strategies/${SIGNAL_STRATEGY}`);
    expect(engineSays.body.enabled === false, `the engine has it disabled: ${JSON.stringify(engineSays.body)}`);
    await apage.screenshot({ path: join(SHOTS, "22-strategies-admin-stopped.png"), fullPage: true });
    await Promise.all([apage.waitForURL(`${BASE}/strategies`), apage.click(`#enable-${SIGNAL_STRATEGY}`)]);
    expect((await apage.textContent(`#strategy-${SIGNAL_STRATEGY} .strategy-state`)) === "running", "running again");
    await admin.close();
  });

  await step("an admin changes a strategy's parameters; the engine's refusal is shown on the form", async () => {
    const admin = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const apage = await admin.newPage();
    await signIn(apage, env("ADMIN_USER"));
    await apage.goto(`${BASE}/strategies`);
    await Promise.all([apage.waitForURL(`${BASE}/strategies/${SIGNAL_STRATEGY}/edit`), apage.click(`#edit-${SIGNAL_STRATEGY}`)]);
    const shown = JSON.parse(await apage.inputValue("#st-params"));
    expect(shown.quantity === "1", `the form holds the strategy's parameters: ${JSON.stringify(shown)}`);
    const save = async (params) => {
      await apage.fill("#st-params", params);
      const [response] = await Promise.all([apage.waitForNavigation(), apage.click("#save-strategy")]);
      return response.status();
    };
    // Not JSON: the dashboard's own check names the field.
    expect((await save('{"quantity": ')) === 422, "a form that is not JSON answers 422");
    expect((await apage.textContent("#strategy-error")).includes("Parameters must be a JSON object"), "the field is named");
    // JSON the engine refuses for this kind: its message, naming the parameter, is on the form.
    expect((await save('{"quantity": "-1"}')) === 422, "the engine's refusal answers 422, not 500");
    const error = await apage.textContent("#strategy-error");
    expect(error.includes("refused") && error.includes("quantity"), `the engine's reason: ${error}`);
    expect((await apage.inputValue("#st-params")).includes('"-1"'), "what was typed is kept");
    expect((await engine("GET", `/api/v1/strategies/${SIGNAL_STRATEGY}`)).body.params.quantity === "1", "the engine kept the old parameters");
    await apage.screenshot({ path: join(SHOTS, "32-strategy-edit-refused.png"), fullPage: true });
    expect((await save('{"quantity": "3"}')) === 200, "a valid change goes back to the list");
    expect(apage.url() === `${BASE}/strategies`, `back on the list: ${apage.url()}`);
    const held = (await engine("GET", `/api/v1/strategies/${SIGNAL_STRATEGY}`)).body;
    expect(held.params.quantity === "3", `the engine holds the new parameters: ${JSON.stringify(held.params)}`);
    expect((await apage.textContent(`#strategy-${SIGNAL_STRATEGY}`)).includes('"quantity":"3"'), "the list shows them");
    await apage.screenshot({ path: join(SHOTS, "33-strategy-edited.png"), fullPage: true });
    await admin.close();
  });

  await step("an admin changes an account's risk limits and the engine holds them", async () => {
    const admin = await browser.newContext({ viewport: { width: 1366, height: 800 } });
    const apage = await admin.newPage();
    await signIn(apage, env("ADMIN_USER"));
    await apage.goto(`${BASE}/risk?account=demo`);
    expect((await apage.textContent("#limit-max_order_qty")).includes("1000"), "the demo account's seeded limit");
    await apage.goto(`${BASE}/risk?account=${SIGNAL_ACCOUNT}`);
    await apage.fill("#max_order_qty", "5");
    await apage.fill("#max_orders_per_minute", "30");
    await Promise.all([apage.waitForURL(`${BASE}/risk?account=${SIGNAL_ACCOUNT}`), apage.click("#save-limits")]);
    expect((await apage.textContent("#limit-max_order_qty")).includes("5"), "the new limit is shown");
    const held = await engine("GET", `/api/v1/risk-limits/${SIGNAL_ACCOUNT}`);
    expect(held.body.max_order_qty === "5" && held.body.max_orders_per_minute === 30, `engine: ${JSON.stringify(held.body)}`);
    // The change is in the audit log below, newest first: who, which limit, from what to what.
    const change = await apage.locator("#risk-audit tbody tr", { hasText: "Largest order quantity" }).first().textContent();
    const audit = (await engine("GET", `/api/v1/audit?target=account:${SIGNAL_ACCOUNT}&limit=1`)).body[0];
    expect(change.includes(audit.actor) && /5$/.test(change.trim()), `the audit entry: ${change} (engine: ${JSON.stringify(audit)})`);
    await apage.screenshot({ path: join(SHOTS, "23-risk-admin.png"), fullPage: true });
    await admin.close();
  });
} catch {
  exitCode = 1;
} finally {
  await browser.close();
}
console.log(`screenshots in ${SHOTS}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(exitCode || (failed > 0 ? 1 : 0));
