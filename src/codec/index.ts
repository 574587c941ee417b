import type { DataConverter } from '@temporalio/common';
import { authSettingsFromEnv } from '../servers/kit/auth';
import { defaultCredentialsFile, McpTokenSource } from '../servers/kit/client-auth';
import { AesGcmPayloadCodec } from './aes-gcm-codec';
import { fetchPayloadKeys } from './key-client';

export * from './aes-gcm-codec';
export { fetchPayloadKeys, type FetchPayloadKeysOptions } from './key-client';
export * from './remote-codec-json';

/** Audience of the security server's codec endpoints. */
const CODEC_AUDIENCE = 'mcp:codec';
/** The OAuth client the security server generates for codec key holders (workers, CLI). */
export const DEFAULT_CODEC_CLIENT_ID = 'orchestrator-codec';

/** Where the payload codec gets its keys, from the environment (see docs/encryption.md). */
export type PayloadCodecSettings =
  | { mode: 'off' }
  | {
      mode: 'aes-gcm';
      /** `GET` endpoint of the payload keys. */
      keysUrl: string;
      tokenUrl: string;
      clientId: string;
      clientSecret?: string;
      credentialsFile: string;
      refreshIntervalMs: number;
    };

/**
 * Reads `MCP_PAYLOAD_CODEC` (`off` default | `aes-gcm`), and for `aes-gcm`: the security server from
 * `MCP_AUTH_ISSUER` (default `http://127.0.0.1:<MCP_SECURITY_PORT or 8005>`; `MCP_CODEC_KEYS_URL`
 * overrides the key endpoint), the client `MCP_CODEC_CLIENT_ID` (default `orchestrator-codec`) with
 * `MCP_CODEC_CLIENT_SECRET` or its entry in `MCP_CLIENT_CREDENTIALS_FILE`, and `MCP_CODEC_KEY_REFRESH_S`
 * (default 300). Any other `MCP_PAYLOAD_CODEC` value fails rather than silently storing plaintext.
 */
export function payloadCodecSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadCodecSettings {
  const raw = (env.MCP_PAYLOAD_CODEC ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'off') return { mode: 'off' };
  if (raw !== 'aes-gcm')
    throw new Error(`MCP_PAYLOAD_CODEC must be 'aes-gcm' or 'off', got '${env.MCP_PAYLOAD_CODEC}'`);
  // The key endpoint needs a token even when the MCP servers run with MCP_AUTH=off.
  const auth = authSettingsFromEnv({ ...env, MCP_AUTH: 'jwt' });
  if (auth.mode !== 'jwt') throw new Error('unreachable: auth settings forced to jwt');
  const refreshS = Number(env.MCP_CODEC_KEY_REFRESH_S ?? 300);
  if (!Number.isFinite(refreshS) || refreshS < 1)
    throw new Error(
      `MCP_CODEC_KEY_REFRESH_S must be a number of seconds ≥ 1, got '${env.MCP_CODEC_KEY_REFRESH_S}'`,
    );
  const clientId = env.MCP_CODEC_CLIENT_ID || DEFAULT_CODEC_CLIENT_ID;
  return {
    mode: 'aes-gcm',
    keysUrl: env.MCP_CODEC_KEYS_URL || `${auth.issuer}/codec/keys`,
    tokenUrl: `${auth.issuer}/oauth/token`,
    clientId,
    // A secret in the environment belongs to MCP_CODEC_CLIENT_ID only, never to the default id.
    clientSecret: env.MCP_CODEC_CLIENT_ID ? env.MCP_CODEC_CLIENT_SECRET || undefined : undefined,
    credentialsFile: env.MCP_CLIENT_CREDENTIALS_FILE || defaultCredentialsFile(env),
    refreshIntervalMs: refreshS * 1000,
  };
}

/** One codec per key source and client per process: every Client and Worker shares its keys and refreshes. */
const codecs = new Map<string, Promise<AesGcmPayloadCodec>>();

/**
 * Builds the AES-256-GCM payload codec for `settings`: a client-credentials token (scope `codec:keys`)
 * from the security server, the keys from its `/codec/keys`, refreshed every `refreshIntervalMs` and
 * whenever a payload names a key id not held yet (a rotation). Fails with a clear message when the
 * credentials or the keys cannot be had: a worker must not start writing plaintext by accident.
 */
export function createPayloadCodec(
  settings: Extract<PayloadCodecSettings, { mode: 'aes-gcm' }>,
): Promise<AesGcmPayloadCodec> {
  const cacheKey = `${settings.keysUrl}\0${settings.clientId}\0${settings.credentialsFile}`;
  let codec = codecs.get(cacheKey);
  if (!codec) {
    codec = (async () => {
      const tokens = new McpTokenSource({
        tokenUrl: settings.tokenUrl,
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        credentialsFile: settings.credentialsFile,
        audienceFor: () => CODEC_AUDIENCE,
      });
      const fetchKeys = () =>
        fetchPayloadKeys({
          keysUrl: settings.keysUrl,
          token: () => tokens.tokenFor('codec'),
          invalidateToken: () => tokens.invalidate('codec'),
        });
      let keys;
      try {
        tokens.credentials();
        keys = await fetchKeys();
      } catch (err) {
        throw new Error(
          `MCP_PAYLOAD_CODEC=aes-gcm: cannot load the payload keys as client ${settings.clientId}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      return new AesGcmPayloadCodec({
        keys,
        refresh: fetchKeys,
        refreshIntervalMs: settings.refreshIntervalMs,
      });
    })();
    codecs.set(cacheKey, codec);
    // A failed load is not cached: the next caller tries again (the security server may be starting).
    codec.catch(() => codecs.delete(cacheKey));
  }
  return codec;
}

/**
 * The data converter every Temporal Client and Worker of the orchestrator uses: `{ payloadCodecs:
 * [AES-256-GCM codec] }` when `MCP_PAYLOAD_CODEC=aes-gcm`, undefined (Temporal's default, plaintext
 * JSON) otherwise. Pass it as `dataConverter` to `new Client(...)`, `Worker.create(...)`, and
 * `WorkflowClient`/`ScheduleClient` alike: a worker without it cannot read what a client with it wrote.
 */
export async function loadDataConverter(
  env: NodeJS.ProcessEnv = process.env,
): Promise<DataConverter | undefined> {
  const settings = payloadCodecSettingsFromEnv(env);
  if (settings.mode === 'off') return undefined;
  return { payloadCodecs: [await createPayloadCodec(settings)] };
}
