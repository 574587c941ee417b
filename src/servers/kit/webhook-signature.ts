import crypto from 'node:crypto';

/**
 * Signing of webhook deliveries between our servers (compute → integration), in the style of Stripe's:
 * header `X-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` and
 * header `X-Webhook-Id: <unique event id>` so the receiver can refuse replays.
 */
export const WEBHOOK_HEADERS = { signature: 'x-webhook-signature', id: 'x-webhook-id' } as const;

export function signWebhook(secret: string, rawBody: string | Uint8Array, nowS = Math.floor(Date.now() / 1000)): string {
  const mac = crypto.createHmac('sha256', secret).update(`${nowS}.`).update(rawBody).digest('hex');
  return `t=${nowS},v1=${mac}`;
}

export type WebhookVerdict = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'stale' | 'bad_signature' };

/** Verifies a signature header with a constant-time compare and a timestamp window (default 300 s). */
export function verifyWebhook(
  secret: string,
  rawBody: string | Uint8Array,
  header: string | undefined,
  opts: { toleranceS?: number; nowS?: number } = {},
): WebhookVerdict {
  if (!header) return { ok: false, reason: 'malformed' };
  const parts = Object.fromEntries(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const v1 = parts.v1;
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed' };
  const now = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceS ?? 300)) return { ok: false, reason: 'stale' };
  const expected = crypto.createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
  return { ok: true, timestamp: t };
}
