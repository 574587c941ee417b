/**
 * Anatomy of a step: runs a 12-step chain of 0 ms and of 100 ms tools on the bench stack and prints the
 * median time between consecutive history events (dispatch of workflow and activity tasks, workflow
 * task processing, activity execution). Where the coordination overhead goes, from Temporal's own
 * timestamps. `npx tsx bench/anatomy.ts` (MCP_TRACING=off to compare without tracing).
 */
import { temporal } from '@temporalio/proto';
import { BenchStack, plan } from './perf/stack';
import { chainSpec } from './perf/specs';
const E = temporal.api.enums.v1.EventType;
async function main() {
  const stack = await BenchStack.start();
  const set = await stack.addWorkers();
  await set.run(plan(chainSpec(5, 0)));
  for (const ms of [0, 100]) {
    const h = await set.start(plan(chainSpec(12, ms)));
    await h.result();
    const hist = await h.fetchHistory();
    const ev = hist.events!;
    const t = (e: (typeof ev)[number]) => Number(e.eventTime!.seconds) * 1000 + e.eventTime!.nanos! / 1e6;
    const sum: Record<string, number[]> = {};
    for (let i = 1; i < ev.length; i++) (sum[E[ev[i]!.eventType!]!] ??= []).push(t(ev[i]!) - t(ev[i - 1]!));
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(`--- ${ms} ms tools: total ${(t(ev[ev.length - 1]!) - t(ev[0]!)).toFixed(0)} ms; ` + Object.entries(sum).map(([k, v]) => `${k.replace('EVENT_TYPE_', '')} ${med(v).toFixed(1)}`).join(', '));
  }
  await stack.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
