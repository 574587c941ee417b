import { sleep, type ChaosStack } from '../stack';
import { completed, judge, newResult, SPEC_DEFAULTS, type Scenario } from '../types';

/**
 * RELIABILITY 1: SIGKILL a group worker after a tool's side effect, before the call completes. The
 * `mid` step applies its effect and then holds the call open; the worker dies in between; Temporal
 * notices through the heartbeat timeout and retries on a fresh worker; the server sees the same
 * idempotency key and does not apply the effect again.
 */
export const killWorkerMidStep: Scenario = {
  id: '1-kill-worker',
  title: 'SIGKILL group worker after the side effect, mid-step',
  async run(stack: ChaosStack, opts) {
    const r = newResult(this.id, this.title, 'completed', 'SIGKILL → killed step completed on the other group worker');
    const runs = opts.runs ?? (opts.quick ? 2 : 5);
    let attemptsSeen = 0;
    for (let i = 0; i < runs; i++) {
      const id = `s1-${i}`;
      const plan = stack.plan(`name: chaos-kill-worker
${SPEC_DEFAULTS}steps:
  before: { server: ledger, tool: effect, args: { name: "${id}/before" } }
  mid: { server: ledger, tool: effect, needs: [before], args: { name: "${id}/mid", hold_ms: 4000 } }
  after: { server: ledger, tool: effect, needs: [mid], args: { name: "${id}/after" } }
`);
      const handle = await stack.start(plan, id);
      // The server's own record says the effect happened: now the call is between effect and answer.
      await waitUntil(() => stack.ledger.count(`${id}/mid`) === 1, 60_000, `${id}/mid applied`);
      await sleep(300);
      const tKill = Date.now();
      await stack.killWorkerRunning(handle, 'ledger', 'SIGKILL');
      r.faults++;
      // The group's other worker takes the retry; a replacement starts meanwhile (not part of recovery).
      const replacement = inBackground(stack.ensureWorkers());
      await stack.waitProgress(handle, (p) => p.steps.mid!.status === 'done', 90_000);
      r.recoverMs.push(Date.now() - tKill);
      await replacement();
      const o = await stack.outcome(handle);
      const attempts = o.progress.steps.mid?.attempts ?? 0;
      attemptsSeen += attempts;
      const counts = ['before', 'mid', 'after'].map((s) => stack.ledger.count(`${id}/${s}`));
      judge(r, id, [
        [completed(o), `run ended ${o.temporalStatus}/${o.progress.status}`],
        [counts.every((n) => n === 1), `effects applied ${counts.join('/')} times (want 1/1/1)`],
        [attempts >= 2, `killed step succeeded on attempt ${attempts} (want ≥ 2: it was retried)`],
      ]);
    }
    r.duplicated = stack.ledger.duplicated('s1-');
    r.faultsNote = `${r.faults} × SIGKILL ledger worker`;
    r.evidence = `ledger server: ${stack.ledger.entries.filter((e) => e.name.startsWith('s1-')).length} effects for ${3 * runs} steps; killed steps took ${attemptsSeen} attempts in all (retried, replayed by key)`;
    return r;
  },
};

/** Starts `p` now; the returned function awaits it later (rethrowing its error then, not unhandled). */
export function inBackground(p: Promise<unknown>): () => Promise<void> {
  const settled = p.then(
    () => undefined,
    (err: unknown) => err,
  );
  return async () => {
    const err = await settled;
    if (err !== undefined) throw err;
  };
}

export async function waitUntil(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
