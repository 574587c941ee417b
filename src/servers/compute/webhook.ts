import crypto from 'node:crypto';
import { WEBHOOK_HEADERS, signWebhook } from '../kit';

/** Outcome of delivering one webhook event. */
export interface DeliveryReport {
  event_id: string;
  delivered: boolean;
  attempts: number;
  last_status: number | null;
  error: string | null;
}

/**
 * POSTs a JSON event signed with HMAC-SHA256 (kit webhook-signature) and retries transient failures
 * (network errors, 5xx, 429) with exponential backoff. The event id stays the same across attempts so
 * the receiver can drop duplicates.
 */
export async function deliverWebhook(
  callback: { url: string; secret: string },
  event: Record<string, unknown>,
  opts: { attempts?: number; baseDelayMs?: number; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<DeliveryReport> {
  const eventId = `evt_${crypto.randomUUID()}`;
  const body = JSON.stringify({ id: eventId, created_at: new Date().toISOString(), ...event });
  const attempts = opts.attempts ?? 4;
  let lastStatus: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.signal?.aborted) break;
    try {
      const res = await fetch(callback.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [WEBHOOK_HEADERS.signature]: signWebhook(callback.secret, body),
          [WEBHOOK_HEADERS.id]: eventId,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(opts.timeoutMs ?? 10_000), ...(opts.signal ? [opts.signal] : [])]),
      });
      lastStatus = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { event_id: eventId, delivered: true, attempts: attempt, last_status: lastStatus, error: null };
      error = `HTTP ${res.status}`;
      // 4xx other than 408/429 means the receiver refuses this event: retrying would not change that.
      if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (attempt < attempts) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, (opts.baseDelayMs ?? 500) * 2 ** (attempt - 1));
        opts.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  return { event_id: eventId, delivered: false, attempts, last_status: lastStatus, error };
}
