import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { callOk } from '../../../harness/mcp-client';
import { type Started, startNotification } from './start';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium) {
  // Only a missing browser skips this suite; every other failure fails it.
  console.warn(
    `dashboard browser tests SKIPPED: ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`,
  );
}
const describeBrowser = hasChromium ? describe : describe.skip;

jest.setTimeout(90_000);

describeBrowser('notification dashboard in headless Chromium', () => {
  let n: Started;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    n = await startNotification();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    // The page must not need the network: anything not served by our server is recorded and refused.
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(n.url + '/')) return route.continue();
      foreignRequests.push(u);
      return route.abort();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await n?.stop();
  });

  test('when a metric is pushed with dashboard_update, then the open dashboard shows it within a second, with a chart of its history', async () => {
    await page.goto(`${n.url}/dashboard`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    expect(await page.textContent('#status')).toBe('live');

    const started = Date.now();
    const shown = page.waitForSelector('[data-metric="training_progress"][data-value="45"]', {
      timeout: 1000,
    });
    await callOk(n.client, 'dashboard_update', {
      dashboard: 'ML Operations',
      metrics: [{ name: 'training_progress', value: 45, labels: { job: 'train_job_892341' } }],
    });
    await shown;
    const elapsedMs = Date.now() - started;
    console.log(`dashboard showed the pushed metric ${elapsedMs} ms after the dashboard_update call started`);
    expect(elapsedMs).toBeLessThan(1000);

    const card = page.locator('[data-metric="training_progress"]');
    expect(await card.locator('.value').textContent()).toBe('45');
    expect(await card.locator('.labels').textContent()).toBe('{job="train_job_892341"}');
    expect(await page.locator('section[data-dashboard="ML Operations"] h2').textContent()).toBe(
      'ML Operations',
    );

    for (const v of [52.5, 61, 70.25]) {
      await callOk(n.client, 'dashboard_update', {
        dashboard: 'ML Operations',
        metrics: [{ name: 'training_progress', value: v, labels: { job: 'train_job_892341' } }],
      });
    }
    await page.waitForSelector('[data-metric="training_progress"][data-value="70.25"]', { timeout: 1000 });
    const polyline = await card.locator('polyline').getAttribute('points');
    expect(polyline?.trim().split(/\s+/)).toHaveLength(4);
  });

  test('when an alert fires, then the dashboard lists the event live', async () => {
    await callOk(n.client, 'create_alert', {
      id: 'loss-spike',
      name: 'Loss spike',
      metric: 'train_loss',
      comparator: 'gt',
      threshold: 2,
      channels: ['slack'],
    });
    await callOk(n.client, 'dashboard_update', {
      dashboard: 'ML Operations',
      metrics: [{ name: 'train_loss', value: 3.5 }],
    });
    const item = await page.waitForSelector('#alerts li.fired[data-alert-id="loss-spike"]', {
      timeout: 1000,
    });
    expect(await item.textContent()).toContain('FIRED loss-spike train_loss = 3.5');
  });

  test('when metric labels carry markup or script, then the page shows them as text and runs nothing', async () => {
    const attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    await callOk(n.client, 'dashboard_update', {
      dashboard: 'ML Operations',
      metrics: [{ name: 'xss_probe', value: 1, labels: { note: attack } }],
    });
    const card = page.locator('[data-metric="xss_probe"]');
    await card.waitFor({ timeout: 1000 });
    expect(await card.locator('.labels').textContent()).toBe(`{note="${attack}"}`);
    expect(await card.locator('img, script').count()).toBe(0);
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
  });

  test('when the dashboard is reloaded, then the snapshot restores every series with its history, and nothing was fetched from elsewhere', async () => {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
    expect(await page.locator('[data-metric="training_progress"] .value').textContent()).toBe('70.25');
    expect(
      (await page.locator('[data-metric="training_progress"] polyline').getAttribute('points'))
        ?.trim()
        .split(/\s+/),
    ).toHaveLength(4);
    const shot = path.join(os.tmpdir(), `notification-dashboard-${Date.now()}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard screenshot saved to ${shot}`);
    expect(fs.statSync(shot).size).toBeGreaterThan(1000);
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  test('when a client reads the SSE stream directly, then it gets a snapshot event first and then live points events', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${n.url}/dashboard/events`, { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      const until = Date.now() + 3000;
      while (!pattern.test(text) && Date.now() < until) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      return pattern.test(text);
    };
    expect(await readUntil(/event: snapshot\ndata: .*\n\n/)).toBe(true);
    await callOk(n.client, 'record_metric', { name: 'sse_probe', value: 7 });
    expect(await readUntil(/event: points\ndata: .*"sse_probe".*\n\n/)).toBe(true);
    ctrl.abort();
    await reader.cancel().catch(() => undefined);
  });
});
