/**
 * Screenshots a command as it looks in a real terminal: runs it in a detached tmux pane, waits until the
 * pane shows what you ask for (a regex), captures the pane with its colours, renders that as HTML and
 * photographs it in headless Chromium. Used for the CLI screenshots under docs/.
 *
 *   tsx scripts/capture-terminal.ts --out docs/cli-seed-live.png --when 'running' -- mcp-orch run pipelines/recommendation.yaml
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { chromium } from 'playwright-core';

interface Options {
  out: string;
  when: RegExp;
  cols: number;
  rows: number;
  timeoutMs: number;
  command: string[];
}

function parseArgs(argv: string[]): Options {
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) throw new Error('usage: capture-terminal --out file.png [--when regex] [--cols 150] [--rows 50] [--timeout 300] -- command args…');
  const flags = argv.slice(0, sep);
  const get = (name: string) => {
    const i = flags.indexOf(`--${name}`);
    return i >= 0 ? flags[i + 1] : undefined;
  };
  const out = get('out');
  if (!out) throw new Error('--out is required');
  return {
    out,
    when: new RegExp(get('when') ?? '\\$ $', 'm'),
    cols: Number(get('cols') ?? 150),
    rows: Number(get('rows') ?? 50),
    timeoutMs: Number(get('timeout') ?? 300) * 1000,
    command: argv.slice(sep + 1),
  };
}

const PALETTE = ['#1e1e1e', '#e06c75', '#98c379', '#e5c07b', '#61afef', '#c678dd', '#56b6c2', '#dcdfe4'];
const BRIGHT = ['#5c6370', '#ff7b86', '#b5e890', '#ffd68a', '#82c4ff', '#e29cff', '#7fd8e3', '#ffffff'];

function color256(n: number): string {
  if (n < 8) return PALETTE[n]!;
  if (n < 16) return BRIGHT[n - 8]!;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const c = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
}

const escapeHtml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** ANSI SGR (colours, bold, dim, inverse) → HTML spans; other escapes are dropped. */
export function ansiToHtml(text: string): string {
  let fg: string | undefined;
  let bg: string | undefined;
  let bold = false;
  let dim = false;
  let out = '';
  const style = () => {
    const s: string[] = [];
    if (fg) s.push(`color:${fg}`);
    if (bg) s.push(`background:${bg}`);
    if (bold) s.push('font-weight:bold');
    if (dim) s.push('opacity:0.65');
    return s.join(';');
  };
  for (const part of text.split(/(\x1b\[[0-9;]*[A-Za-z])/)) {
    const m = /^\x1b\[([0-9;]*)([A-Za-z])$/.exec(part);
    if (!m) {
      if (part) out += style() ? `<span style="${style()}">${escapeHtml(part)}</span>` : escapeHtml(part);
      continue;
    }
    if (m[2] !== 'm') continue;
    const codes = (m[1] || '0').split(';').map(Number);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i]!;
      if (c === 0) [fg, bg, bold, dim] = [undefined, undefined, false, false];
      else if (c === 1) bold = true;
      else if (c === 2) dim = true;
      else if (c === 22) [bold, dim] = [false, false];
      else if (c >= 30 && c <= 37) fg = PALETTE[c - 30];
      else if (c >= 90 && c <= 97) fg = BRIGHT[c - 90];
      else if (c >= 40 && c <= 47) bg = PALETTE[c - 40];
      else if (c === 39) fg = undefined;
      else if (c === 49) bg = undefined;
      else if ((c === 38 || c === 48) && codes[i + 1] === 5) {
        const v = color256(codes[i + 2] ?? 7);
        if (c === 38) fg = v;
        else bg = v;
        i += 2;
      } else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
        const v = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
        if (c === 38) fg = v;
        else bg = v;
        i += 4;
      }
    }
  }
  return out;
}

function tmux(...args: string[]): string {
  // Own server socket: a fresh tmux server inherits this process's environment (PATH, MCP_DATA_ROOT…).
  return execFileSync('tmux', ['-L', 'mcp-orch-capture', ...args], { encoding: 'utf8' });
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const session = `capture-${process.pid}`;
  const shown = o.command.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ');
  // The prompt line makes the picture read like a terminal session; the sleep keeps the pane after exit.
  const script = `printf '$ %s\\n' ${JSON.stringify(shown)}; ${o.command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}; printf '$ '; sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', String(o.cols), '-y', String(o.rows), 'bash', '-c', script);
  let pane = '';
  try {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      pane = tmux('capture-pane', '-p', '-e', '-t', session);
      if (o.when.test(pane.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''))) break;
      if (Date.now() > deadline) throw new Error(`the pane never showed /${o.when.source}/ within ${o.timeoutMs / 1000} s; last:\n${pane}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    try {
      tmux('kill-session', '-t', session);
    } catch {
      // already gone
    }
  }
  const lines = pane.replace(/\s+$/, '').split('\n');
  const html = `<!doctype html><meta charset="utf-8"><body style="margin:0;background:#1e1e1e">
<pre style="margin:0;padding:14px 18px;color:#dcdfe4;font:13px/1.35 'DejaVu Sans Mono',monospace;white-space:pre">${lines.map(ansiToHtml).join('\n')}</pre>`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 400 }, deviceScaleFactor: 1 });
    await page.setContent(html);
    await page.locator('pre').screenshot({ path: o.out });
  } finally {
    await browser.close();
  }
  fs.writeFileSync(o.out.replace(/\.png$/, '.txt'), lines.map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')).join('\n') + '\n');
  process.stdout.write(`wrote ${o.out} (${lines.length} lines)\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`capture-terminal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
