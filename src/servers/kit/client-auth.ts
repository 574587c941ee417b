import path from 'node:path';
import { authSettingsFromEnv, readClientCredentials, TokenProvider } from './auth';

/**
 * The client side of MCP authentication for the orchestrator's workers and CLI: client-credentials
 * tokens from the security server, one {@link TokenProvider} per audience (`mcp:<group>`), so a token
 * only ever reaches the server it was issued for. Tokens live in memory and in fetch headers only —
 * never in activity inputs or results, hence never in workflow history.
 */

/** Where the local stack's security server writes the generated client credentials. */
export function defaultCredentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.MCP_DATA_ROOT ?? path.resolve('.data'), 'security', 'clients.secret.json');
}

export interface McpTokenSourceOptions {
  /** Token endpoint, e.g. `http://127.0.0.1:8005/oauth/token`. */
  tokenUrl: string;
  /** Client id; its secret comes from `clientSecret` or the credentials file. */
  clientId: string;
  clientSecret?: string;
  /** `clients.secret.json` of the security server, read when `clientSecret` is absent. */
  credentialsFile?: string;
  /** Audience for a server group. @default `mcp:<group>` */
  audienceFor?: (group: string) => string;
}

/** Bearer tokens per server group for {@link McpClientPool}'s `tokenFor` hook. */
export class McpTokenSource {
  private readonly providers = new Map<string, TokenProvider>();
  private secret?: string;

  constructor(readonly opts: McpTokenSourceOptions) {
    this.secret = opts.clientSecret;
  }

  get clientId(): string {
    return this.opts.clientId;
  }

  /**
   * Resolves the client secret now (reads the credentials file if needed), so a worker fails at start
   * with a clear message rather than at its first tool call.
   */
  credentials(): { clientId: string; clientSecret: string } {
    if (!this.secret) {
      const file = this.opts.credentialsFile;
      if (!file)
        throw new Error(
          `no secret for MCP client ${this.opts.clientId}: set MCP_CLIENT_SECRET or MCP_CLIENT_CREDENTIALS_FILE`,
        );
      try {
        this.secret = readClientCredentials(file, this.opts.clientId).clientSecret;
      } catch (err) {
        throw new Error(
          `cannot read credentials of MCP client ${this.opts.clientId} from ${file} (MCP_CLIENT_CREDENTIALS_FILE): ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    return { clientId: this.opts.clientId, clientSecret: this.secret };
  }

  private provider(group: string): TokenProvider {
    let p = this.providers.get(group);
    if (!p) {
      const { clientId, clientSecret } = this.credentials();
      p = new TokenProvider({
        tokenUrl: this.opts.tokenUrl,
        clientId,
        clientSecret,
        audience: this.opts.audienceFor?.(group) ?? `mcp:${group}`,
      });
      this.providers.set(group, p);
    }
    return p;
  }

  /** A valid token for the group's servers (cached; refreshed before expiry). */
  tokenFor(group: string): Promise<string> {
    return this.provider(group).getToken();
  }

  /** Forgets the group's cached token (the server answered 401: expired, or keys rotated). */
  invalidate(group: string): void {
    this.providers.get(group)?.invalidate();
  }
}

/**
 * A token source from the environment, or undefined when `MCP_AUTH=off`:
 * `MCP_CLIENT_ID`/`MCP_CLIENT_SECRET` when set, else `defaultClientId` with its secret from
 * `MCP_CLIENT_CREDENTIALS_FILE` (default `<MCP_DATA_ROOT>/security/clients.secret.json`); the token
 * endpoint is `<MCP_AUTH_ISSUER>/oauth/token`.
 */
export function tokenSourceFromEnv(
  defaultClientId: string,
  env: NodeJS.ProcessEnv = process.env,
): McpTokenSource | undefined {
  const settings = authSettingsFromEnv(env);
  if (settings.mode === 'off') return undefined;
  const clientId = env.MCP_CLIENT_ID || defaultClientId;
  return new McpTokenSource({
    tokenUrl: `${settings.issuer}/oauth/token`,
    clientId,
    // A secret in the environment belongs to MCP_CLIENT_ID only, never to a default id.
    clientSecret: env.MCP_CLIENT_ID ? env.MCP_CLIENT_SECRET || undefined : undefined,
    credentialsFile: env.MCP_CLIENT_CREDENTIALS_FILE || defaultCredentialsFile(env),
  });
}
