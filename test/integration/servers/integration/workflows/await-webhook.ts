import { condition, defineSignal, setHandler } from '@temporalio/workflow';

/** The signal a bound webhook sends; its argument is the delivery envelope. */
export const webhookReceivedSignal = defineSignal<[unknown]>('webhookReceived');

/** Waits for one webhook signal and returns its payload (test workflow). */
export async function awaitWebhook(): Promise<unknown> {
  let payload: unknown;
  let received = false;
  setHandler(webhookReceivedSignal, (p) => {
    payload = p;
    received = true;
  });
  if (!(await condition(() => received, '2 minutes'))) throw new Error('no webhook signal within 2 minutes');
  return payload;
}
