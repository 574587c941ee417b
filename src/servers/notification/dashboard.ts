import crypto from 'node:crypto';
import type express from 'express';
import type { Response } from 'express';
import type { AlertEvent, AlertStore } from './alert-store';
import type { AlertService } from './alert-service';
import type { MetricPoint, MetricSeries, MetricStore } from './metric-store';

/** Points per series in the snapshot a new dashboard client receives. */
const SNAPSHOT_POINTS = 120;
/** SSE comment sent this often so proxies and browsers keep an idle stream open. */
const HEARTBEAT_MS = 15_000;
/** Dashboard clients served at once; more get 503 rather than unbounded memory. */
const MAX_CLIENTS = 50;

function seriesView(s: MetricSeries, points: MetricPoint[]) {
  return { key: s.key, dashboard: s.dashboard, name: s.name, labels: s.labels, points };
}

/**
 * The live dashboard: `GET /dashboard` (a self-contained HTML page, no external resources),
 * `GET /dashboard/events` (Server-Sent Events: `snapshot`, then `points` and `alert` as they happen)
 * and `GET /dashboard/state` (the same snapshot as JSON).
 */
export class Dashboard {
  private readonly clients = new Set<Response>();
  private heartbeat?: NodeJS.Timeout;
  private readonly onPoints = (batch: { series: MetricSeries; point: MetricPoint }[]) =>
    this.broadcast('points', {
      updates: batch.map(({ series, point }) => ({ ...seriesView(series, []), point })),
    });
  private readonly onAlert = (event: AlertEvent) => this.broadcast('alert', event);

  constructor(
    private readonly metrics: MetricStore,
    private readonly alerts: AlertStore,
    private readonly alertService: AlertService,
  ) {
    metrics.on('points', this.onPoints);
    alertService.on('event', this.onAlert);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  snapshot() {
    return {
      generatedAt: new Date().toISOString(),
      series: this.metrics.list().map((s) => seriesView(s, s.points.slice(-SNAPSHOT_POINTS))),
      alerts: this.alerts.listEvents({ limit: 20 }),
    };
  }

  private broadcast(event: string, data: unknown) {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(frame);
  }

  routes(app: express.Express): void {
    app.get('/dashboard', (_req, res) => {
      const nonce = crypto.randomBytes(16).toString('base64');
      // Nothing on the page may load from elsewhere, and only our own inline script may run.
      res.setHeader(
        'Content-Security-Policy',
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      );
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.type('html').send(renderDashboardHtml(nonce));
    });
    app.get('/dashboard/state', (_req, res) => {
      res.json(this.snapshot());
    });
    app.get('/dashboard/events', (req, res) => {
      if (this.clients.size >= MAX_CLIENTS) {
        res
          .status(503)
          .setHeader('Retry-After', '5')
          .json({ error: `dashboard serves at most ${MAX_CLIENTS} live clients` });
        return;
      }
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(this.snapshot())}\n\n`);
      this.clients.add(res);
      this.ensureHeartbeat();
      req.on('close', () => {
        this.clients.delete(res);
        if (this.clients.size === 0) this.stopHeartbeat();
      });
    });
  }

  private ensureHeartbeat() {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) res.write(`: keep-alive ${Date.now()}\n\n`);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private stopHeartbeat() {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Ends every live stream and detaches from the stores. */
  close(): void {
    this.stopHeartbeat();
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.metrics.off('points', this.onPoints);
    this.alertService.off('event', this.onAlert);
  }
}

/**
 * Client script. Everything from the server is put on the page with `textContent` or SVG attributes,
 * never as HTML, so metric names and labels cannot inject markup.
 */
const CLIENT_JS = String.raw`
(function () {
  'use strict';
  var MAX_POINTS = 240;
  var series = {};
  var board = document.getElementById('board');
  var statusEl = document.getElementById('status');
  var alertsEl = document.getElementById('alerts');
  var SVG = 'http://www.w3.org/2000/svg';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function labelText(labels) {
    var keys = Object.keys(labels || {}).sort();
    if (!keys.length) return '';
    return '{' + keys.map(function (k) { return k + '="' + labels[k] + '"'; }).join(', ') + '}';
  }
  function fmt(v) {
    if (typeof v !== 'number') return '–';
    var a = Math.abs(v);
    return (a !== 0 && (a >= 1e6 || a < 1e-3)) ? v.toExponential(3) : String(Math.round(v * 1000) / 1000);
  }
  function section(name) {
    var id = 'dash-' + encodeURIComponent(name);
    var s = document.getElementById(id);
    if (s) return s.querySelector('.cards');
    s = el('section', 'dashboard');
    s.id = id;
    s.setAttribute('data-dashboard', name);
    s.appendChild(el('h2', null, name));
    var cards = el('div', 'cards');
    s.appendChild(cards);
    board.appendChild(s);
    var empty = document.getElementById('empty');
    if (empty) empty.remove();
    return cards;
  }
  function card(s) {
    var c = el('article', 'card');
    c.setAttribute('data-series-key', s.key);
    c.setAttribute('data-metric', s.name);
    c.appendChild(el('div', 'name', s.name));
    c.appendChild(el('div', 'labels', labelText(s.labels)));
    var v = el('div', 'value', '–');
    c.appendChild(v);
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 300 60');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('class', 'chart');
    var line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke-width', '2');
    svg.appendChild(line);
    var dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('r', '3');
    svg.appendChild(dot);
    c.appendChild(svg);
    var meta = el('div', 'meta', '');
    c.appendChild(meta);
    section(s.dashboard).appendChild(c);
    return { info: s, points: [], el: c, value: v, line: line, dot: dot, meta: meta };
  }
  function render(entry) {
    var pts = entry.points;
    var last = pts[pts.length - 1];
    entry.value.textContent = last ? fmt(last.v) : '–';
    entry.el.setAttribute('data-value', last ? String(last.v) : '');
    entry.meta.textContent = pts.length + ' points' + (last ? ' · ' + new Date(last.t).toLocaleTimeString() : '');
    if (pts.length < 1) return;
    var t0 = pts[0].t, t1 = last.t, lo = Infinity, hi = -Infinity;
    pts.forEach(function (p) { if (p.v < lo) lo = p.v; if (p.v > hi) hi = p.v; });
    if (hi === lo) { hi += 1; lo -= 1; }
    var span = Math.max(1, t1 - t0);
    var xy = pts.map(function (p) {
      var x = pts.length === 1 ? 150 : ((p.t - t0) / span) * 294 + 3;
      var y = 56 - ((p.v - lo) / (hi - lo)) * 52;
      return [x.toFixed(1), y.toFixed(1)];
    });
    entry.line.setAttribute('points', xy.map(function (p) { return p[0] + ',' + p[1]; }).join(' '));
    var end = xy[xy.length - 1];
    entry.dot.setAttribute('cx', end[0]);
    entry.dot.setAttribute('cy', end[1]);
  }
  function upsert(s, points) {
    var entry = series[s.key] || (series[s.key] = card(s));
    points.forEach(function (p) { entry.points.push(p); });
    entry.points.sort(function (a, b) { return a.t - b.t; });
    if (entry.points.length > MAX_POINTS) entry.points.splice(0, entry.points.length - MAX_POINTS);
    render(entry);
  }
  function addAlert(e) {
    var li = el('li', 'alert ' + e.kind);
    li.setAttribute('data-alert-id', e.alertId);
    li.textContent = new Date(e.at).toLocaleTimeString() + ' ' + e.kind.toUpperCase() + ' ' + e.alertId + ' ' + e.seriesKey.split('|')[1] + ' = ' + fmt(e.value);
    alertsEl.insertBefore(li, alertsEl.firstChild);
    while (alertsEl.children.length > 20) alertsEl.removeChild(alertsEl.lastChild);
  }

  var source = new EventSource('/dashboard/events');
  source.addEventListener('open', function () { statusEl.textContent = 'live'; statusEl.className = 'live'; });
  source.addEventListener('error', function () { statusEl.textContent = 'reconnecting…'; statusEl.className = 'down'; });
  source.addEventListener('snapshot', function (ev) {
    var snap = JSON.parse(ev.data);
    Object.keys(series).forEach(function (k) { series[k].points = []; });
    snap.series.forEach(function (s) { upsert(s, s.points); });
    alertsEl.textContent = '';
    snap.alerts.forEach(addAlert);
    document.body.setAttribute('data-ready', 'true');
  });
  source.addEventListener('points', function (ev) {
    JSON.parse(ev.data).updates.forEach(function (u) { upsert(u, [u.point]); });
  });
  source.addEventListener('alert', function (ev) { addAlert(JSON.parse(ev.data)); });
})();
`;

const CSS = `
body { font: 14px system-ui, sans-serif; margin: 0; background: #0f1419; color: #e6e6e6; }
header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.2rem; background: #151b23; border-bottom: 1px solid #2a3340; }
header h1 { font-size: 1.1rem; margin: 0; }
#status { font-size: .8rem; padding: .1rem .5rem; border-radius: .6rem; background: #444; }
#status.live { background: #1f6f3f; } #status.down { background: #8a2b2b; }
main { display: grid; grid-template-columns: 1fr 320px; gap: 1rem; padding: 1rem 1.2rem; }
h2 { font-size: 1rem; margin: .2rem 0 .6rem; color: #9fb3c8; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: .8rem; margin-bottom: 1.2rem; }
.card { background: #151b23; border: 1px solid #2a3340; border-radius: 8px; padding: .7rem; }
.card .name { font-weight: 600; word-break: break-all; } .card .labels { color: #8b98a5; font-size: .75rem; min-height: 1em; word-break: break-all; }
.card .value { font-size: 1.8rem; font-variant-numeric: tabular-nums; margin: .2rem 0; }
.card .chart { width: 100%; height: 60px; } .card polyline { stroke: #4aa3ff; } .card circle { fill: #4aa3ff; }
.card .meta { color: #8b98a5; font-size: .7rem; }
aside ul { list-style: none; padding: 0; margin: 0; font-size: .8rem; }
aside li { padding: .3rem .4rem; border-left: 3px solid #555; margin-bottom: .3rem; background: #151b23; word-break: break-all; }
aside li.fired { border-color: #e5534b; } aside li.resolved { border-color: #57ab5a; } aside li.pending { border-color: #c69026; }
#empty { color: #8b98a5; }
`;

/** The dashboard page; `nonce` authorises its inline script and style under the page's CSP. */
export function renderDashboardHtml(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcp-orchestrator · notification dashboard</title>
<style nonce="${nonce}">${CSS}</style>
</head>
<body>
<header><h1>Notification dashboard</h1><span id="status">connecting…</span></header>
<main>
<div id="board"><p id="empty">No metrics yet: push some with the <code>dashboard_update</code> tool.</p></div>
<aside><h2>Alert events</h2><ul id="alerts"></ul></aside>
</main>
<script nonce="${nonce}">${CLIENT_JS}</script>
</body>
</html>`;
}
