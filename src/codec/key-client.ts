import { z } from 'zod';
import type { PayloadKeySet } from './aes-gcm-codec';

const keysResponse = z.object({
  name: z.string(),
  activeKeyId: z.string().min(1),
  keys: z
    .array(z.object({ id: z.string().min(1), createdAt: z.string().optional(), key: z.string().base64() }))
    .min(1),
});

export interface FetchPayloadKeysOptions {
  /** The security server's key endpoint, e.g. `http://127.0.0.1:8005/codec/keys`. */
  keysUrl: string;
  /** A bearer token with scope `codec:keys` (audience `mcp:codec`). */
  token: () => Promise<string>;
  /** Drops a cached token after a 401 (expired, or signing key rotated). */
  invalidateToken?: () => void;
  /** @default 10000 */
  timeoutMs?: number;
}

/**
 * Fetches the payload keys from the security server (`GET /codec/keys`). Retries once with a fresh
 * token after a 401. Errors name the URL and the server's reason; the keys themselves never appear in
 * an error or a log.
 */
export async function fetchPayloadKeys(opts: FetchPayloadKeysOptions): Promise<PayloadKeySet> {
  for (let attempt = 0; ; attempt++) {
    const token = await opts.token();
    let res: Response;
    try {
      res = await fetch(opts.keysUrl, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new Error(`payload keys: ${opts.keysUrl} unreachable: ${(err as Error).message}`);
    }
    if (res.status === 401 && attempt === 0 && opts.invalidateToken) {
      opts.invalidateToken();
      continue;
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const b = (body ?? {}) as { error?: string; error_description?: string };
      throw new Error(
        `payload keys: ${opts.keysUrl} answered HTTP ${res.status} ${b.error ?? ''} ${b.error_description ?? ''}`.trim(),
      );
    }
    const parsed = keysResponse.safeParse(body);
    if (!parsed.success)
      throw new Error(
        `payload keys: ${opts.keysUrl} answered an unexpected body (${parsed.error.issues[0]?.message ?? 'invalid'})`,
      );
    return {
      activeKeyId: parsed.data.activeKeyId,
      keys: parsed.data.keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') })),
    };
  }
}
