// Browser test of the chat demo: headless Debian Chromium driven by
// playwright-core, against a running `cargo run --example chat -- 127.0.0.1:PORT`.
//
//     node tests/e2e/browser.mjs PORT [SCREENSHOT_DIR]
//
// Exits non-zero on the first failed check. Screenshots go to
// SCREENSHOT_DIR (default target/e2e).
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = Number(process.argv[2]);
const shots = process.argv[3] || "target/e2e";
const base = `http://127.0.0.1:${port}/`;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "wsguard-chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const timeout = 10_000;
let failed = false;

async function check(what, body) {
  try {
    await body();
    console.log(`browser: ok: ${what}`);
  } catch (e) {
    console.log(`browser: FAILED: ${what}\n${e.message}`);
    for (const page of browser.pages()) {
      console.log(`  page ${page.url()}: status ${await page.textContent("#status").catch(() => "?")}`);
    }
    failed = true;
  }
}

async function open(token, url = base) {
  const page = await browser.newPage();
  await page.goto(url);
  await page.fill("#token", token);
  await page.click("#connect");
  return page;
}
const logHas = (page, text) => page.locator("#log", { hasText: text }).waitFor({ timeout });
const statusIs = (page, text) => page.locator("#status", { hasText: text }).waitFor({ timeout });

try {
  const alice = await open("alice-token");
  const bob = await open("bob-token");
  const admin = await open("admin-token");
  await check("alice, bob and admin log in with the subprotocol token", async () => {
    for (const page of [alice, bob, admin]) {
      await statusIs(page, "connected (subprotocol chat.v1)");
      await logHas(page, "joined #lobby");
    }
  });

  await check("alice's email reaches bob masked and admin unmasked", async () => {
    await alice.fill("#text", "write to jane.doe@example.com please");
    await alice.click("#send");
    await logHas(bob, "write to j***@example.com please");
    await logHas(admin, "write to jane.doe@example.com please");
    await logHas(alice, "your message contained an email address");
    if ((await bob.textContent("#log")).includes("jane.doe")) throw new Error("bob saw the address");
  });
  await bob.screenshot({ path: join(shots, "chat-bob-masked.png"), fullPage: true });

  await check("typing a sentence shows 'is typing' and never rate_limited", async () => {
    // One keystroke each 20 ms for 2.4 s: without the page's debounce this
    // is 120 typing messages against a quota of 2 per second.
    await bob.locator("#text").pressSequentially("typing a whole sentence here, like people do, quickly", { delay: 20 });
    await logHas(admin, "bob is typing");
    await bob.waitForTimeout(300);
    if ((await bob.textContent("#log")).includes("rate_limited")) throw new Error("typing was rate limited");
    await bob.fill("#text", "");
  });

  await check("the page runs under its Content-Security-Policy", async () => {
    const response = await bob.request.get(base);
    const csp = response.headers()["content-security-policy"] || "";
    if (!csp.includes("connect-src 'self'") || !csp.includes("frame-ancestors 'none'")) throw new Error(csp);
    // The page is connected (above), so its own script and socket were allowed.
    const violations = await bob.evaluate(() => window.cspViolations || 0);
    if (violations) throw new Error(`${violations} CSP violations`);
  });

  await check("an invalid message gets invalid_message", async () => {
    await alice.fill("#raw", '{"type":"chat","room":"Lobby!","text":"x"}');
    await alice.click("#sendRaw");
    await logHas(alice, "invalid_message");
    await logHas(alice, "schema validation refused it: pattern at /room");
  });

  await check("alice's kick gets forbidden", async () => {
    await alice.fill("#kickUser", "bob");
    await alice.click("#kick");
    await logHas(alice, "forbidden");
    await logHas(alice, "RBAC: your role may not send this");
  });

  await check("a flood gets rate_limited, then 4429", async () => {
    await alice.click("#flood");
    await logHas(alice, "rate_limited");
    await statusIs(alice, "closed: 4429 rate limit exceeded");
  });
  await alice.screenshot({ path: join(shots, "chat-alice-flood.png"), fullPage: true });

  await check("the guard panel charts what the guard passed, refused, masked and closed", async () => {
    // The panel polls /stats (the guard's metrics) every 2 s.
    await admin.locator("#by-layer", { hasText: "refused by rate_limit" }).waitFor({ timeout });
    await admin.locator("#by-layer", { hasText: "closed by rate_limit" }).waitFor({ timeout });
    await admin.locator("#by-layer", { hasText: "refused by rbac" }).waitFor({ timeout });
    await admin.locator("#by-layer", { hasText: "refused by schema" }).waitFor({ timeout });
    for (const bar of ["passed", "refused", "masked", "closed"]) {
      const n = Number(await admin.textContent(`#n-${bar}`));
      if (!(n > 0)) throw new Error(`${bar}: ${n}`);
    }
    const width = await admin.evaluate(() => document.getElementById("bar-passed").getBoundingClientRect().width);
    if (!(width > 10)) throw new Error(`passed bar ${width}px`);
  });
  await admin.screenshot({ path: join(shots, "chat-guard-panel.png"), fullPage: true });

  await check("a wrong token shows 4401 on the page", async () => {
    const wrong = await open("mallory-token");
    await statusIs(wrong, "closed: 4401");
    await logHas(wrong, "authentication failed");
  });

  await check("a page served from another origin is refused", async () => {
    // The same page, served by another server (another origin), pointed at the chat server.
    const js = readFileSync(new URL("../../examples/chat/chat.js", import.meta.url), "utf8");
    const html = readFileSync(new URL("../../examples/chat/index.html", import.meta.url), "utf8")
      .replace('<script src="/chat.js"></script>', `<script>window.CHAT_HOST = "127.0.0.1:${port}";</script><script>${js}</script>`);
    const other = createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(html));
    await new Promise((ok) => other.listen(0, "127.0.0.1", ok));
    try {
      const evil = await open("alice-token", `http://127.0.0.1:${other.address().port}/`);
      await statusIs(evil, "closed: 4403");
      await evil.screenshot({ path: join(shots, "chat-other-origin.png"), fullPage: true });
    } finally {
      other.close();
    }
  });
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
