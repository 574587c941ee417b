import { computeRunMetrics } from '../../../src/shared/metrics';
import type { RunProgress, StepProgress } from '../../../src/shared/run-types';

function step(id: string, needs: string[], start: number, end: number, tool: number, attempts = 1): StepProgress {
  return { id, server: 's', tool: 't', needs, status: 'done', startedAt: start, endedAt: end, toolTimeMs: tool, callMs: tool + 2, attempts };
}

describe('run metrics', () => {
  it('when two branches run in parallel, then CP, E and overhead follow the definitions', () => {
    const p: RunProgress = {
      workflowId: 'w',
      pipeline: 'p',
      status: 'completed',
      paused: false,
      startedAt: 0,
      steps: {
        a: step('a', [], 0, 110, 100),
        b: step('b', ['a'], 120, 330, 200),
        c: step('c', ['a'], 120, 180, 50, 2),
        d: step('d', ['b', 'c'], 340, 400, 50),
      },
      completionOrder: ['a', 'c', 'b', 'd'],
    };
    const m = computeRunMetrics(p);
    expect(m.criticalPath).toEqual(['a', 'b', 'd']);
    expect(m.criticalPathMs).toBe(350);
    expect(m.makespanMs).toBe(400);
    expect(m.lowerBoundMs).toBe(350);
    expect(m.parallelEfficiency).toBeCloseTo(350 / 400);
    expect(m.coordinationOverheadPerStepMs).toBeCloseTo(50 / 3);
    expect(m.retries).toBe(1);
    expect(m.meanTransportMs).toBeCloseTo(2);
    // With a concurrency cap of 1 the bound is the total work.
    expect(computeRunMetrics(p, 1).lowerBoundMs).toBe(400);
  });
});
