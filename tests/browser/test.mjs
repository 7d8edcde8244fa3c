// The real-browser test of Granary's web pages: starts a real granary-server,
// pushes fixtures through the native API, then drives Debian's headless
// Chromium (puppeteer-core; no browser is downloaded) through
// home → search with a license filter → model page → files → tensors →
// benchmarks → the file viewer → the signed-in flow (sign in, tokens made and
// revoked, a model's settings, sign out) → a gated model (anonymous, sign in,
// accept, download) → phone-sized pages, asserting on what is visible and saving screenshots under
// target/browser-screenshots/. A model card whose script would change
// document.title proves that no card script runs.
//
// Usage: node tests/browser/test.mjs  (run.sh builds the server first)

import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const server = process.env.GRANARY_SERVER ?? join(root, "target/debug/granary-server");
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = join(root, "target/browser-screenshots");
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function check(what, ok, detail = "") {
  if (ok) {
    passed += 1;
    console.log(`ok - ${what}`);
  } else {
    failed += 1;
    console.log(`not ok - ${what}${detail ? `: ${detail}` : ""}`);
  }
}

// ---------------------------------------------------------------- fixtures

const HOSTILE_CARD = `---
license: apache-2.0
pipeline_tag: text-generation
library_name: candle
datasets: [wikitext]
language: [en]
tags: [tiny, browser-test]
model-index:
  - name: tiny-llama
    results:
      - task: {type: text-generation}
        dataset: {name: HellaSwag, type: hellaswag}
        metrics:
          - {type: acc_norm, value: 0.312}
---
# Tiny Llama

A tiny generated model for the browser test.

| layer | shape |
|-------|-------|
| w     | 4 × 4 |

\`\`\`python
from granary import pull
\`\`\`

<script>document.title = "pwned by script"</script>

<img src="x" onerror="document.title='pwned by onerror'">

<svg onload="document.title='pwned by svg'"></svg>

[a link that would run script](javascript:document.title='pwned%20by%20link')

<iframe src="javascript:parent.document.title='pwned by iframe'"></iframe>
`;

/** A safetensors file of F32 tensors: [name, shape] pairs, deterministic values. */
function safetensors(tensors) {
  const header = {};
  let offset = 0;
  const datas = [];
  for (const [name, shape] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) data.writeFloatLE(Math.sin(i + offset) * 0.1, i * 4);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + data.length] };
    offset += data.length;
    datas.push(data);
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([prefix, Buffer.from(json), ...datas]);
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

async function api(base, token, method, path, body) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body && !Buffer.isBuffer(body) ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Uploads the files' blobs and commits them (docs/API.md). Returns the revision id. */
async function push(base, token, model, files, message, parent = null) {
  for (const [, bytes] of files) {
    const digest = sha256(bytes);
    const status = await api(base, token, "POST", "/uploads", { sha256: digest, size: bytes.length });
    if (status.stored) continue;
    for (let n = 0; n < status.part_count; n++) {
      const part = bytes.subarray(n * status.part_size, Math.min((n + 1) * status.part_size, bytes.length));
      await api(base, token, "PUT", `/uploads/${status.id}/parts/${n}`, Buffer.from(part));
    }
    await api(base, token, "POST", `/uploads/${status.id}/complete`);
  }
  const commit = await api(base, token, "POST", `/models/${model}/commits`, {
    parent,
    message,
    files: files.map(([path, bytes]) => ({ path, size: bytes.length, sha256: sha256(bytes) })),
  });
  return commit.id;
}

// ---------------------------------------------------------------- server

const dataDir = mkdtempSync(join(tmpdir(), "granary-browser-"));
const created = execFileSync(server, ["user", "create", "alice", "--data-dir", dataDir, "--password-stdin"],
  { encoding: "utf8", input: "alice-password-1\n" });
const token = created.trim().split("\n").pop().trim();
execFileSync(server, ["user", "create", "bob", "--data-dir", dataDir, "--password-stdin"],
  { encoding: "utf8", input: "bob-password-22\n" });

const proc = spawn(server, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const base = await new Promise((resolveUrl, reject) => {
  const lines = createInterface({ input: proc.stdout });
  lines.once("line", (line) => {
    const m = line.match(/granary listening on (http:\/\/\S+)/);
    m ? resolveUrl(m[1]) : reject(new Error(`unexpected first line: ${line}`));
  });
  proc.once("exit", (code) => reject(new Error(`granary-server exited with ${code}`)));
});
console.log(`# server at ${base}, data in ${dataDir}`);

let browser;
try {
  const config = Buffer.from(JSON.stringify({ architectures: ["LlamaForCausalLM"], model_type: "llama" }));
  const first = await push(base, token, "alice/tiny-llama", [
    ["README.md", Buffer.from(HOSTILE_CARD)],
    ["config.json", config],
    ["model.safetensors", safetensors([["model.embed.weight", [16, 8]], ["model.norm.weight", [8]]])],
  ], "first weights <b>not bold</b>");
  await push(base, token, "alice/tiny-llama", [
    ["README.md", Buffer.from(HOSTILE_CARD)],
    ["config.json", config],
    ["model.safetensors", safetensors([["model.embed.weight", [16, 8]], ["model.norm.weight", [8]], ["lm_head.weight", [16, 8]]])],
  ], "add an lm head", first);
  await push(base, token, "alice/tiny-restricted", [
    ["README.md", Buffer.from("---\nlicense: llama3\ntags: [tiny]\n---\n# Restricted\n")],
    ["config.json", config],
  ], "first");
  await push(base, token, "alice/gated-llama", [
    ["README.md", Buffer.from("---\nlicense: apache-2.0\n---\n# Gated\n\nAccept first.\n")],
    ["config.json", config],
  ], "first");
  await api(base, token, "PATCH", "/models/alice/gated-llama/settings", { gated: true });

  // ------------------------------------------------------------ browser
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const visible = (sel) => page.$eval(sel, (el) => el.innerText);
  const bodyText = () => page.evaluate(() => document.body.innerText);

  // Home.
  await page.goto(`${base}/`, { waitUntil: "load" });
  check("home page title", (await page.title()) === "Granary · open-weights model registry", await page.title());
  check("home shows the newest models", (await visible("#h-newest + ul")).includes("alice/tiny-llama"));
  check("home has a Sign in link", (await page.$eval("a.signin", (a) => a.getAttribute("href"))) === "/login");
  await page.screenshot({ path: join(shots, "01-home.png"), fullPage: true });

  // Search from the home page, then filter by license.
  await page.type("#home-q", "tiny");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  check("search goes to /models?q=tiny", page.url().endsWith("/models?q=tiny"), page.url());
  let text = await bodyText();
  check("search finds both models", text.includes("alice/tiny-llama") && text.includes("alice/tiny-restricted"));
  await page.type("#f-license", "apache-2.0");
  await page.click("#f-permissive");
  await Promise.all([page.waitForNavigation(), page.click(".filters button[type=submit]")]);
  const url = new URL(page.url());
  check("the filters are in the query string",
    url.searchParams.get("license") === "apache-2.0" && url.searchParams.get("permissive") === "on" && url.searchParams.get("q") === "tiny",
    page.url());
  text = await visible(".results");
  check("the license filter keeps the apache-2.0 model", text.includes("alice/tiny-llama"));
  check("the license filter drops the llama3 model", !text.includes("alice/tiny-restricted"));
  check("the count says 1 model", text.includes("1 model"));
  await page.screenshot({ path: join(shots, "02-models-filtered.png"), fullPage: true });

  // The model page: its card rendered, no card script ran.
  await Promise.all([page.waitForNavigation(), page.click('.results a[href="/alice/tiny-llama"]')]);
  await new Promise((r) => setTimeout(r, 300));
  check("model page title is unchanged by the card", (await page.title()) === "alice/tiny-llama · Granary", await page.title());
  check("no page errors", consoleErrors.length === 0, consoleErrors.join("; "));
  text = await visible("article.card");
  check("the card's heading and table are shown", text.includes("Tiny Llama") && text.includes("4 × 4"));
  check("the card has no script, iframe or event handler", await page.evaluate(() =>
    document.querySelectorAll("article.card script, article.card iframe, article.card [onerror], article.card [onload]").length === 0));
  const badges = await visible("ul.badges");
  check("badges show license, task, dataset, language", ["Apache-2.0", "text-generation", "wikitext", "en"].every((b) => badges.includes(b)), badges);
  check("the license badge links to SPDX", (await page.$eval(".badge-license a", (a) => a.href)) === "https://spdx.org/licenses/Apache-2.0.html");
  const panel = await visible("aside.panel");
  check("the panel shows parameters and files", panel.includes("Parameters") && panel.includes("3 files"), panel);
  check("the panel shows the pull commands", (await page.$eval("#pull-cli", (i) => i.innerText)) === "granary pull alice/tiny-llama"
    && (await page.$eval("#pull-hf", (i) => i.innerText)) === `HF_ENDPOINT=${base} hf download alice/tiny-llama`);
  check("the panel says the license is permissive", panel.includes("Permissive license"));
  await page.screenshot({ path: join(shots, "03-model.png"), fullPage: true });

  // Files and versions, then the tensor browser.
  await Promise.all([page.waitForNavigation(), page.click("nav.tabs a:nth-child(2)")]);
  text = await visible("table.files");
  check("the files table lists every file", ["README.md", "config.json", "model.safetensors"].every((f) => text.includes(f)), text);
  check("each file has a SHA-256", (await page.$$eval("table.files code.sha", (c) => c.map((x) => x.innerText))).every((s) => /^[0-9a-f]{64}$/.test(s)));
  const download = await page.$eval('table.files a[download]', (a) => a.getAttribute("href"));
  const res = await fetch(`${base}${download}`);
  check("a file's download link works", res.ok, `${download}: ${res.status}`);
  await page.screenshot({ path: join(shots, "04-files.png"), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('table.files a[href*="/tensors/"]')]);
  text = await visible("table.tensors");
  check("the tensor browser lists names, dtypes and shapes", text.includes("lm_head.weight") && text.includes("F32") && text.includes("[16, 8]"), text);
  await page.screenshot({ path: join(shots, "05-tensors.png"), fullPage: true });

  // History: the commit message's markup is text.
  await page.goto(`${base}/alice/tiny-llama/commits/main`, { waitUntil: "load" });
  text = await visible("ol.commits");
  check("history shows the messages as text", text.includes("first weights <b>not bold</b>") && text.includes("add an lm head"), text);
  check("history has no bold element from a message", (await page.$$("ol.commits b")).length === 0);
  await Promise.all([page.waitForNavigation(), page.click("ol.commits a[href*='/compare/']")]);
  text = await bodyText();
  check("compare shows the changed file", text.includes("1 changed") && text.includes("model.safetensors"), text);
  await page.screenshot({ path: join(shots, "06-compare.png"), fullPage: true });

  // Benchmarks: wait a little for the in-process worker (when granary-verify is built).
  let benchText = "";
  for (let i = 0; i < 20; i++) {
    await page.goto(`${base}/alice/tiny-llama/benchmarks`, { waitUntil: "load" });
    benchText = await bodyText();
    if (benchText.includes("Verification runs")) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  check("benchmarks shows the self-reported results, labelled", benchText.includes("Self-reported by the authors")
    && benchText.includes("HellaSwag") && benchText.includes("0.312") && benchText.includes("Granary has not checked them"));
  check("benchmarks shows measured results or says there are none",
    benchText.includes("Verification runs") || benchText.includes("No verification has finished"));
  await page.screenshot({ path: join(shots, "07-benchmarks.png"), fullPage: true });

  // A missing model is a styled 404; the owner's page lists the models.
  const missing = await page.goto(`${base}/alice/nothing-here`, { waitUntil: "load" });
  check("a missing model is a 404 page", missing.status() === 404 && (await visible("main")).includes("404"));
  await page.goto(`${base}/alice`, { waitUntil: "load" });
  check("the owner page lists the models", (await visible("main")).includes("alice/tiny-restricted"));

  // The file viewer: highlighted JSON with Raw and Download; the hostile card as a file runs nothing.
  await page.goto(`${base}/alice/tiny-llama/blob/main/config.json`, { waitUntil: "load" });
  check("the file viewer highlights JSON keys", (await page.$$eval("pre.code .k", (k) => k.map((x) => x.innerText))).includes('"architectures"'));
  check("the file viewer offers Raw and Download", (await page.$$eval(".blob-head a.button", (a) => a.map((x) => x.innerText))).join(",") === "Raw,Download");
  await page.screenshot({ path: join(shots, "10-blob-json.png"), fullPage: true });
  await page.goto(`${base}/alice/tiny-llama/blob/main/README.md`, { waitUntil: "load" });
  await new Promise((r) => setTimeout(r, 300));
  check("a hostile Markdown file runs no script", (await page.title()).startsWith("README.md ·"), await page.title());
  await page.screenshot({ path: join(shots, "11-blob-markdown.png"), fullPage: true });

  // Signed in: the name in the header, tokens made and revoked, a model's settings, sign out.
  await page.goto(`${base}/login`, { waitUntil: "load" });
  await page.type("#username", "alice");
  await page.type("#password", "alice-password-1");
  await Promise.all([page.waitForNavigation(), page.click("main button[type=submit]")]);
  check("signing in shows your name", (await visible(".user-menu .user-name")) === "alice");
  check("signing in leads to your page", new URL(page.url()).pathname === "/alice", page.url());
  await page.click(".user-menu summary");
  await page.screenshot({ path: join(shots, "12-user-menu.png") });
  await Promise.all([page.waitForNavigation(), page.click('.user-menu a[href="/settings/tokens"]')]);
  await page.type("#name", "browser");
  await Promise.all([page.waitForNavigation(), page.click('form[action="/settings/tokens"] button[type=submit]')]);
  const newToken = await visible(".notice pre code");
  check("a new token is shown once", newToken.startsWith("gr_"), newToken);
  text = await visible("table");
  check("token dates are dates", !/\d{13}/.test(text) && text.includes("browser"), text);
  await page.screenshot({ path: join(shots, "13-tokens.png"), fullPage: true });
  const row = (await page.$$("tbody tr")).at(-1);
  await (await row.$("summary.danger")).click();
  await Promise.all([page.waitForNavigation(), (await row.$("button.danger")).click()]);
  check("revoking asks first, then revokes", (await bodyText()).includes("The token was revoked."));
  const revoked = await fetch(`${base}/api/v1/whoami`, { headers: { authorization: `Bearer ${newToken}` } });
  check("the revoked token no longer works", revoked.status === 401, String(revoked.status));
  await page.goto(`${base}/alice/tiny-restricted`, { waitUntil: "load" });
  await Promise.all([page.waitForNavigation(), page.click('nav.tabs a[href$="/settings"]')]);
  await page.click("#v-private");
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/settings"] button[type=submit]')]);
  const hidden = await fetch(`${base}/alice/tiny-restricted`);
  check("the settings tab made the model private", hidden.status === 404, String(hidden.status));
  await page.screenshot({ path: join(shots, "14-model-settings.png"), fullPage: true });
  await page.click(".user-menu summary");
  await Promise.all([page.waitForNavigation(), page.click(".user-menu button")]);
  check("signing out shows Sign in again", (await page.$("a.signin")) !== null && (await page.$(".user-menu")) === null);

  // A gated model: an anonymous visitor signs in, accepts the license, then downloads.
  const anon = await (await browser.createBrowserContext()).newPage();
  await anon.setViewport({ width: 1280, height: 900 });
  await anon.goto(`${base}/alice/gated-llama`, { waitUntil: "load" });
  check("a gated model has its badge", (await anon.$(".badge-gated")) !== null);
  await anon.screenshot({ path: join(shots, "15-gated-anonymous.png"), fullPage: true });
  await anon.goto(`${base}/alice/gated-llama/tree/main`, { waitUntil: "load" });
  check("no file links before acceptance", (await anon.$$("table.files a[download]")).length === 0);
  await Promise.all([anon.waitForNavigation(), anon.click(".gate a.signin")]);
  await anon.type("#username", "bob");
  await anon.type("#password", "bob-password-22");
  await Promise.all([anon.waitForNavigation(), anon.click("main button[type=submit]")]);
  check("signing in comes back to the model", new URL(anon.url()).pathname === "/alice/gated-llama", anon.url());
  await Promise.all([anon.waitForNavigation(), anon.click(".gate button[type=submit]")]);
  check("after accepting, the prompt is gone", (await anon.$(".gate")) === null);
  await anon.goto(`${base}/alice/gated-llama/tree/main`, { waitUntil: "load" });
  const href = await anon.$eval("table.files a[download]", (a) => a.getAttribute("href"));
  const got = await anon.evaluate(async (h) => (await fetch(h)).status, href);
  check("after accepting, the download works", got === 200, `${href}: ${got}`);
  await anon.screenshot({ path: join(shots, "16-gated-accepted.png"), fullPage: true });

  // On a phone.
  await page.setViewport({ width: 390, height: 844, isMobile: true, deviceScaleFactor: 2 });
  await page.goto(`${base}/alice/tiny-llama`, { waitUntil: "load" });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check("the model page fits a phone's width", overflow <= 1, `${overflow}px too wide`);
  await page.screenshot({ path: join(shots, "08-model-phone.png"), fullPage: true });
  await page.goto(`${base}/models`, { waitUntil: "load" });
  await page.screenshot({ path: join(shots, "09-models-phone.png"), fullPage: false });
  await page.goto(`${base}/alice/tiny-llama`, { waitUntil: "load" });
  const firstScreen = await page.evaluate(() => {
    const top = (sel) => { const e = document.querySelector(sel); return e ? e.getBoundingClientRect().top : 1e9; };
    return { h1: top("h1"), license: top(".badge-license"), verification: top(".badge-verification"), card: top("article.card") };
  });
  check("a phone's first screen shows the name, license, verification and the card's start",
    Object.values(firstScreen).every((y) => y < 844), JSON.stringify(firstScreen));
  await page.goto(`${base}/models`, { waitUntil: "load" });
  const filtersShown = () => page.$eval("form.filters", (f) => getComputedStyle(f).display !== "none");
  check("on a phone the filters start hidden", !(await filtersShown()));
  await page.click("label.filters-button");
  check("the Filters toggle shows them", await filtersShown());
  await page.screenshot({ path: join(shots, "20-models-phone-filters.png"), fullPage: false });
  for (const [path, shot] of [["/alice/tiny-llama/tree/main", "17-tree-phone.png"], ["/alice/tiny-llama/blob/main/config.json", "18-blob-phone.png"], ["/alice/gated-llama", "19-gated-phone.png"]]) {
    await page.goto(`${base}${path}`, { waitUntil: "load" });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    const culprits = await page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className}`).join(", "));
    check(`${path} fits a phone's width`, wide <= 1, `${wide}px too wide: ${culprits}`);
    await page.screenshot({ path: join(shots, shot), fullPage: false });
  }
} catch (e) {
  failed += 1;
  console.log(`not ok - the test stopped: ${e.stack ?? e}`);
} finally {
  if (browser) await browser.close();
  proc.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`# screenshots in ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
