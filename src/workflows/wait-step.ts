import { ApplicationFailure, condition } from '@temporalio/workflow';
import { ErrorType } from '../shared/errors';
import { getPath, matchesAll, passes } from '../shared/field-test';
import type { ToolCallPlan, WaitPlan } from '../shared/plan';
import type { McpCallOutput } from '../shared/run-types';

/** A signal the workflow received, kept until a wait step consumes it. */
export interface ReceivedSignal {
  name: string;
  payload: unknown;
}

export interface WaitOutcome {
  /** How the wait ended: the signal arrived, or a status check saw the end first. */
  via: 'signal' | 'poll';
  /** The final status (poll result), or the signal payload when there is no poll. */
  result: unknown;
  signal?: unknown;
  polls: number;
  waitedMs: number;
  /** Tool time of the status checks, summed. */
  pollToolMs: number;
}

/**
 * Waits for a matching signal while checking status every `poll.everyMs`. Whichever sees the end first
 * wins: a lost webhook never hangs the run, and a signal ends the wait without waiting for the next
 * poll. Once the signal arrives, one last status check gives the step a canonical result.
 */
export async function runWait(
  wait: WaitPlan,
  resolved: { match: Record<string, unknown>; pollArgs?: Record<string, unknown> },
  received: ReceivedSignal[],
  poll: (call: ToolCallPlan) => Promise<McpCallOutput>,
): Promise<WaitOutcome> {
  const started = Date.now();
  const deadline = started + wait.timeoutMs;
  let polls = 0;
  let pollToolMs = 0;
  const check = async () => {
    polls++;
    const out = await poll({ server: wait.poll!.server, tool: wait.poll!.tool, args: resolved.pollArgs ?? {} });
    pollToolMs += out.toolTimeMs ?? out.callMs;
    return out.result;
  };
  const findSignal = () => received.find((s) => s.name === wait.signal && matchesAll(resolved.match, s.payload));

  for (;;) {
    const signal = findSignal();
    if (signal) {
      received.splice(received.indexOf(signal), 1);
      const result = wait.poll ? await check() : signal.payload;
      return finish({ via: 'signal', result, signal: signal.payload, polls, waitedMs: Date.now() - started, pollToolMs }, wait);
    }
    if (wait.poll) {
      const result = await check();
      if (passes(wait.poll.until, result)) return finish({ via: 'poll', result, polls, waitedMs: Date.now() - started, pollToolMs }, wait);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw ApplicationFailure.create({
        type: ErrorType.WaitTimedOut,
        nonRetryable: true,
        message: `no '${wait.signal}' signal${wait.poll ? ` and no final status from ${wait.poll.server}/${wait.poll.tool}` : ''} within ${Math.round(wait.timeoutMs / 1000)} s`,
      });
    }
    await condition(() => findSignal() !== undefined, Math.min(left, wait.poll?.everyMs ?? left));
  }
}

function finish(outcome: WaitOutcome, wait: WaitPlan): WaitOutcome {
  if (wait.failWhen && passes(wait.failWhen, outcome.result)) {
    throw ApplicationFailure.create({
      type: ErrorType.McpToolError,
      nonRetryable: true,
      message: `waited for '${wait.signal}': ${wait.failWhen.path} is ${JSON.stringify(getPath(outcome.result, wait.failWhen.path))}`,
      details: [outcome.result],
    });
  }
  return outcome;
}
