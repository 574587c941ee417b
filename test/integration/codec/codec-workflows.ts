import { proxyActivities } from '@temporalio/workflow';

/** The activity the echo workflow calls (implemented in the test, on the same task queue). */
export interface CodecTestActivities {
  shout(text: string): Promise<string>;
}

const { shout } = proxyActivities<CodecTestActivities>({ startToCloseTimeout: '10s' });

/**
 * A tiny workflow whose input, activity input, activity result and result all carry the caller's
 * marker, so the test can look for it in every kind of payload Temporal stores.
 */
export async function codecEchoWorkflow(input: { marker: string }): Promise<{ echoed: string; marker: string }> {
  return { echoed: await shout(input.marker), marker: input.marker };
}
