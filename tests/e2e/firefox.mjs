// Debian's Firefox ESR driven over WebDriver BiDi (puppeteer-core), behind
// the part of Playwright's API the browser tests use, so that one test file
// runs on both engines (E2E_BROWSER=firefox; browser.mjs picks).
//
// Why a wrapper: Playwright's own Firefox needs its patched build, which
// cannot be installed here, and its BiDi mode sends commands Firefox ESR 153
// does not know (emulation.setMediaFeaturesOverride). puppeteer-core speaks
// the BiDi that ESR has. Firefox exposes WebGPU on Linux over wgpu and
// Vulkan (lavapipe without a GPU) with shader-f16, the f16 arithmetic path a
// real GPU takes, which Chromium's SwiftShader lacks.
//
// Semantics kept from Playwright: a locator is a selector resolved when
// used; actions and reads wait (up to the context's timeout) for the element
// to exist, clicks for it to be visible. Not kept: strictness (the first
// match is used where Playwright would refuse several).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import puppeteer from 'puppeteer-core';

/**
 * Prefs a new visitor would set to get WebGPU in Firefox ESR on Linux:
 * WebGPU itself, in workers too (the page's worker owns the GPU), and the
 * software adapter, which the blocklist hides by default.
 */
export const FIREFOX_PREFS = {
  'dom.webgpu.enabled': true,
  'dom.webgpu.workers.enabled': true,
  'gfx.webgpu.ignore-blocklist': true,
};

export async function launchFirefox() {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
    // hosting.test.mjs serves the page over HTTPS with a certificate it
    // made; every other test serves plain HTTP from 127.0.0.1.
    acceptInsecureCerts: true,
    // A wait is one long protocol call (the predicate is polled in the
    // page), so puppeteer's 180 s default would cut every wait there; the
    // waits' own limit is browser.mjs's WAIT_MS (E2E_WAIT_S), plus a margin.
    protocolTimeout: (Number(process.env.E2E_WAIT_S ?? 1200) + 60) * 1000,
  });
  return {
    engine: 'firefox',
    newContext: async () => new Context(await browser.createBrowserContext()),
    close: () => browser.close(),
  };
}

class Context {
  constructor(inner) {
    this.inner = inner;
    this.timeout = 30000;
    this.initScripts = [];
  }

  setDefaultTimeout(ms) {
    this.timeout = ms;
  }

  async addInitScript(fn) {
    this.initScripts.push(fn);
  }

  /** Playwright's cookies name a `url`; WebDriver's name a domain and path. */
  addCookies(cookies) {
    return this.inner.setCookie(
      ...cookies.map(({ url, ...c }) => (url ? { ...c, domain: new URL(url).hostname, path: '/' } : c)),
    );
  }

  async newPage() {
    const page = await this.inner.newPage();
    page.setDefaultTimeout(this.timeout);
    for (const fn of this.initScripts) await page.evaluateOnNewDocument(fn);
    return new Page(page, this.timeout);
  }

  close() {
    return this.inner.close();
  }
}

class Page {
  constructor(inner, timeout) {
    this.inner = inner;
    this.timeout = timeout;
    this.mouse = inner.mouse;
    // Playwright's and puppeteer's keyboards share press(key).
    this.keyboard = inner.keyboard;
  }

  on(event, handler) {
    this.inner.on(event, handler);
  }

  addInitScript(fn) {
    return this.inner.evaluateOnNewDocument(fn);
  }

  goto(url) {
    return this.inner.goto(url);
  }

  reload() {
    return this.inner.reload();
  }

  evaluate(fn, arg) {
    return this.inner.evaluate(fn, arg);
  }

  waitForFunction(fn, arg, { timeout } = {}) {
    return this.inner.waitForFunction(fn, { timeout: timeout ?? this.timeout, polling: 100 }, arg);
  }

  setViewportSize({ width, height }) {
    return this.inner.setViewport({ width, height });
  }

  screenshot(options) {
    return this.inner.screenshot(options);
  }

  getByTestId(id) {
    return new Locator(this, `[data-testid="${id}"]`);
  }

  locator(selector) {
    return new Locator(this, selector);
  }
}

class Locator {
  constructor(page, selector, index = 0) {
    this.page = page;
    this.selector = selector;
    this.index = index;
  }

  locator(selector) {
    // Playwright's 'xpath=..' is the element's parent.
    if (selector === 'xpath=..') return new Locator(this.page, `:has(> ${this.selector})`, this.index);
    return new Locator(this.page, `${this.selector} ${selector}`, this.index);
  }

  getByTestId(id) {
    return this.locator(`[data-testid="${id}"]`);
  }

  first() {
    return new Locator(this.page, this.selector, 0);
  }

  nth(index) {
    return new Locator(this.page, this.selector, index);
  }

  /** The element, once it exists (visible too when `visible`). */
  async handle({ visible = false } = {}) {
    const { inner, timeout } = this.page;
    const { selector, index } = this;
    await inner.waitForFunction(
      (selector, index, visible) => {
        const el = document.querySelectorAll(selector)[index];
        if (!el) return false;
        if (!visible) return true;
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
      },
      { timeout, polling: 100 },
      selector,
      index,
      visible,
    );
    const all = await inner.$$(selector);
    return all[index];
  }

  async waitFor({ state = 'visible' } = {}) {
    await this.handle({ visible: state === 'visible' });
  }

  async evaluate(fn, arg) {
    return (await this.handle()).evaluate(fn, arg);
  }

  evaluateAll(fn, arg) {
    return this.page.inner.$$eval(this.selector, fn, arg);
  }

  count() {
    return this.page.inner.$$eval(this.selector, (els) => els.length);
  }

  allTextContents() {
    return this.page.inner.$$eval(this.selector, (els) => els.map((e) => e.textContent));
  }

  textContent() {
    return this.evaluate((el) => el.textContent);
  }

  getAttribute(name) {
    return this.evaluate((el, name) => el.getAttribute(name), name);
  }

  inputValue() {
    return this.evaluate((el) => el.value);
  }

  async click() {
    await (await this.handle({ visible: true })).click();
  }

  async check() {
    const el = await this.handle({ visible: true });
    if (!(await el.evaluate((e) => e.checked))) await el.click();
  }

  /** As Playwright's fill and selectOption: set the value, then input and change events. */
  async fill(value) {
    const el = await this.handle({ visible: true });
    await el.evaluate((e, value) => {
      e.focus();
      const proto = e instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
        : e instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, value);
      e.dispatchEvent(new Event('input', { bubbles: true }));
      e.dispatchEvent(new Event('change', { bubbles: true }));
    }, String(value));
  }

  /** A value, or `{ label }`: the option whose text is that label. */
  async selectOption(value) {
    if (typeof value === 'object' && 'label' in value) {
      const el = await this.handle({ visible: true });
      value = await el.evaluate((e, label) => {
        const option = [...e.options].find((o) => o.textContent.trim() === label);
        if (!option) throw new Error(`no option labelled ${JSON.stringify(label)}`);
        return option.value;
      }, value.label);
    }
    return this.fill(value);
  }

  async hover() {
    await (await this.handle({ visible: true })).hover();
  }

  /** Files, or one folder (see `chooseFolder`). */
  async setInputFiles(paths) {
    const list = [paths].flat();
    const el = await this.handle();
    if (list.length === 1 && statSync(list[0]).isDirectory()) return chooseFolder(el, list[0]);
    await el.uploadFile(...list);
  }

  async boundingBox() {
    return (await this.handle({ visible: true })).boundingBox();
  }

  async scrollIntoViewIfNeeded() {
    await (await this.handle()).evaluate((e) => e.scrollIntoView({ block: 'nearest' }));
  }
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((rel) => statSync(join(dir, rel)).isFile())
    .sort();
}

/**
 * Chooses folder `dir` in `<input webkitdirectory>` `input` as Firefox's
 * folder dialog would: WebDriver BiDi in ESR 153 refuses a directory in
 * `input.setFiles` (NS_ERROR_FILE_IS_DIRECTORY), so the files are made in
 * the page (a File per file, its `webkitRelativePath` "dir/sub/name" as
 * the dialog sets it), put into the input's FileList through a
 * DataTransfer, and `input` and `change` fire. From there the page's own
 * code runs as for a person's choice: the paths, the worker, the reads.
 */
async function chooseFolder(input, dir) {
  const top = basename(dir);
  await input.evaluate((el) => { el.__chosen = []; });
  for (const rel of filesUnder(dir)) {
    const bytes = readFileSync(join(dir, rel)).toString('base64');
    const path = `${top}/${relative(dir, join(dir, rel)).split('\\').join('/')}`;
    await input.evaluate((el, path, b64) => {
      const raw = atob(b64);
      const data = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
      const file = new File([data], path.split('/').pop());
      Object.defineProperty(file, 'webkitRelativePath', { value: path });
      el.__chosen.push(file);
    }, path, bytes);
  }
  await input.evaluate((el) => {
    const dt = new DataTransfer();
    for (const f of el.__chosen) dt.items.add(f);
    delete el.__chosen;
    el.files = dt.files;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  });
}
