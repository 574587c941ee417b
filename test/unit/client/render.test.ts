import { progressLine, stepTable } from '../../../src/client/render';
import type { RunProgress } from '../../../src/shared/run-types';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function progress(): RunProgress {
  return {
    workflowId: 'w',
    pipeline: 'p',
    status: 'running',
    paused: false,
    startedAt: 1_000,
    steps: {
      extract: { id: 'extract', server: 'data', tool: 'sql_query', phase: 'Data pipeline', needs: [], status: 'done', attempts: 1, startedAt: 1_000, endedAt: 1_500, toolTimeMs: 400 },
      train: { id: 'train', server: 'compute', tool: 'train_model', phase: 'Model training', needs: ['extract'], status: 'running', startedAt: 1_500 },
      notify: { id: 'notify', server: 'notification', tool: 'send_slack', needs: ['train'], status: 'waiting' },
    },
  } as unknown as RunProgress;
}

describe('CLI progress rendering', () => {
  it('when steps run, then the progress line names the phase in progress and the running steps', () => {
    expect(progressLine(progress())).toBe('[running] 1/3 done · phase: Model training; running: train');
  });

  it('when coloured for a TTY, then only escape codes are added and the columns stay aligned', () => {
    const plain = stepTable(progress());
    const colored = stepTable(progress(), { color: true });
    expect(colored).not.toBe(plain);
    expect(strip(colored)).toBe(plain);
    expect(colored).toContain('\x1b[32m✔ done');
    expect(colored).toContain('\x1b[36m▶ running');
    const statusColumn = plain.split('\n').map((l) => l.indexOf('STATUS') >= 0 ? l.indexOf('STATUS') : l.search(/[✔▶·] /));
    expect(new Set(statusColumn).size).toBe(1);
  });
});

describe('CLI progress rendering in a narrow terminal', () => {
  it('when a note is longer than the terminal, then the row is cut, not wrapped', () => {
    const p = progress();
    p.steps.extract!.error = { type: 'McpToolError', message: 'x'.repeat(300) } as never;
    const lines = stepTable(p, { maxWidth: 100 }).split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(lines[1]).toMatch(/…$/);
  });
});
