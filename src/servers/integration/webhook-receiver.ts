import crypto from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { WEBHOOK_HEADERS, verifyWebhook, type Logger } from '../kit';
import type { Signaler } from './temporal-signaler';
import {
  DeliveryVerdict,
  type DeliveryLog,
  type DeliveryRecord,
  type WebhookRegistry,
} from './webhook-store';

export interface WebhookReceiverOptions {
  registry: WebhookRegistry;
  deliveries: DeliveryLog;
  signaler: Signaler;
  log: Logger;
  /** Accepted clock skew / age of a signature. @default 300 */
  toleranceS: number;
  /** Largest accepted body. */
  maxBodyBytes: number;
}

/** The envelope a bound workflow receives as its signal argument. */
export interface WebhookSignalPayload {
  webhookId: string;
  eventId: string;
  receivedAt: string;
  contentType: string;
  /** Parsed JSON when the body is JSON, else the text. */
  body: unknown;
}

const EVENT_ID_PATTERN = /^[\w.:-]{1,200}$/;

/**
 * Remembers event ids and signature MACs per endpoint for twice the timestamp window: anything older
 * fails the timestamp check anyway, so the cache stays bounded by traffic within the window.
 */
class ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly ttlMs: number) {}

  has(key: string, now: number): boolean {
    const until = this.seen.get(key);
    return until !== undefined && until > now;
  }

  add(key: string, now: number): void {
    if (this.seen.size > 50_000) for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
    this.seen.set(key, now + this.ttlMs);
  }

  delete(key: string): void {
    this.seen.delete(key);
  }
}

/**
 * Express routes for inbound deliveries at `POST /webhooks/<id>`, verified over the RAW body:
 * HMAC-SHA256 (constant-time compare, kit webhook-signature.ts), timestamp window, and replay refusal
 * by `X-Webhook-Id` and by signature MAC (the kit's signature does not cover the id header, so a
 * captured delivery re-sent under a fresh id is caught by its MAC). A bound endpoint signals its workflow.
 */
export function webhookRoutes(opts: WebhookReceiverOptions): (app: express.Express) => void {
  const replay = new ReplayCache(opts.toleranceS * 2 * 1000);
  // A restart must not reopen the replay window for deliveries already accepted.
  const bootNow = Date.now();
  for (const r of opts.deliveries.acceptedSince(Math.floor(bootNow / 1000) - opts.toleranceS * 2)) {
    if (r.eventId) replay.add(`${r.webhookId}|id|${r.eventId}`, bootNow);
    if (r.mac) replay.add(`${r.webhookId}|mac|${r.mac}`, bootNow);
  }

  const handler = async (req: Request, res: Response): Promise<void> => {
    const id = String(req.params.id ?? '');
    const endpoint = opts.registry.get(id);
    if (!endpoint) {
      res.status(404).json({ error: 'unknown_webhook', message: `no webhook endpoint "${id}"` });
      return;
    }
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const header = req.get(WEBHOOK_HEADERS.signature);
    const eventId = req.get(WEBHOOK_HEADERS.id);
    const base = {
      at: new Date().toISOString(),
      webhookId: id,
      eventId: eventId?.slice(0, 200),
      bytes: raw.length,
      bodySha256: crypto.createHash('sha256').update(raw).digest('hex'),
    };
    const finish = (
      verdict: DeliveryVerdict,
      status: number,
      detail?: string,
      extra: Partial<DeliveryRecord> = {},
    ) => {
      opts.deliveries.add({ ...base, verdict, httpStatus: status, detail, ...extra });
      if (status >= 400)
        opts.log.warn('webhook delivery refused', { webhookId: id, eventId: base.eventId, verdict, detail });
      res
        .status(status)
        .json({ verdict, ...(detail ? { message: detail } : {}), webhookId: id, eventId: base.eventId });
    };

    const verdict = verifyWebhook(endpoint.secret, raw, header, { toleranceS: opts.toleranceS });
    if (!verdict.ok) {
      const status = verdict.reason === 'malformed' ? 400 : 401;
      const detail =
        verdict.reason === 'stale'
          ? `signature timestamp outside the ${opts.toleranceS} s window`
          : verdict.reason === 'malformed'
            ? `missing or malformed ${WEBHOOK_HEADERS.signature} header (expected t=<unix s>,v1=<hex hmac>)`
            : 'signature does not match the body';
      finish(
        verdict.reason === 'bad_signature'
          ? DeliveryVerdict.badSignature
          : verdict.reason === 'stale'
            ? DeliveryVerdict.stale
            : DeliveryVerdict.malformed,
        status,
        detail,
      );
      return;
    }
    // The id is checked only after the signature, so unsigned junk cannot burn ids in the replay cache.
    if (!eventId || !EVENT_ID_PATTERN.test(eventId)) {
      finish(
        DeliveryVerdict.malformed,
        400,
        `missing or invalid ${WEBHOOK_HEADERS.id} header (1-200 chars of [A-Za-z0-9_.:-])`,
      );
      return;
    }
    const mac = /v1=([0-9a-f]{64})/.exec(header ?? '')?.[1] as string;
    const idKey = `${id}|id|${eventId}`;
    const macKey = `${id}|mac|${mac}`;
    const now = Date.now();
    if (replay.has(idKey, now) || replay.has(macKey, now)) {
      finish(
        DeliveryVerdict.replayed,
        409,
        replay.has(idKey, now)
          ? `event id "${eventId}" was already received`
          : 'this signature was already used',
      );
      return;
    }
    replay.add(idKey, now);
    replay.add(macKey, now);
    const signed = { mac, signedAt: verdict.timestamp };

    if (!endpoint.binding) {
      finish(DeliveryVerdict.accepted, 200, undefined, signed);
      return;
    }
    const contentType = req.get('content-type') ?? '';
    const text = raw.toString('utf8');
    let body: unknown = text;
    if (contentType.includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        // Signed but not JSON: the workflow still gets the text.
      }
    }
    const payload: WebhookSignalPayload = { webhookId: id, eventId, receivedAt: base.at, contentType, body };
    try {
      await opts.signaler.signal(endpoint.binding, payload);
      finish(DeliveryVerdict.delivered, 200, undefined, { ...signed, signal: endpoint.binding });
    } catch (err) {
      // Not delivered: let the sender's retry (same event id) through.
      replay.delete(idKey);
      replay.delete(macKey);
      const msg = err instanceof Error ? err.message : String(err);
      finish(
        DeliveryVerdict.signalFailed,
        502,
        `signal "${endpoint.binding.signalName}" to workflow "${endpoint.binding.workflowId}" failed: ${msg.slice(0, 300)}`,
        {
          ...signed,
          signal: endpoint.binding,
        },
      );
    }
  };

  return (app) => {
    const raw = express.raw({ type: () => true, limit: opts.maxBodyBytes });
    app.post('/webhooks/:id', raw, (req, res, next) => {
      handler(req, res).catch(next);
    });
    app.use(
      '/webhooks',
      (err: Error & { type?: string }, _req: Request, res: Response, next: NextFunction) => {
        if (err.type === 'entity.too.large') {
          res
            .status(413)
            .json({ error: 'payload_too_large', message: `webhook body exceeds ${opts.maxBodyBytes} bytes` });
          return;
        }
        next(err);
      },
    );
  };
}
