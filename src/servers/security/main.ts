import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  IdempotencyStore,
  logger,
  ObjectStoreClient,
  runServerMain,
  startMcpHttpServer,
  type RequestAuthenticator,
  type RunningServer,
} from '../kit';
import {
  authSettingsFromEnv,
  jwtAuthenticator,
  serveProtectedResourceMetadata,
  toolScopeFor,
  type AuthDecision,
} from '../kit/auth';
import { AuditLog } from './audit-log';
import { audienceFor, ClientRegistry, CODEC_AUDIENCE } from './clients';
import { codecRoutes } from './codec-routes';
import { loadSecurityConfig, securityConfigSchema, type SecurityServerConfigInput } from './config';
import { sealEnvelope } from './envelope';
import { MasterKeyRing } from './master-keys';
import { ObjectCrypto } from './object-crypto';
import { MinuteRateLimiter, oauthRoutes } from './oauth-routes';
import { PayloadKeyRing } from './payload-keys';
import { PolicyFile } from './policy-file';
import { buildServer, READ_ONLY_TOOLS, SERVER_NAME, type SecurityDeps } from './server';
import { SigningKeyRing } from './signing-keys';
import { TokenIssuer } from './token-issuer';

function packageVersion(): string {
  try {
    // Same relative path from src/servers/security and dist/servers/security.
    return (
      JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '0.0.0';
  }
}

/** AES-256-GCM envelope throughput on this machine, over a 4 MiB buffer. */
function measureAesGcmMBps(): number {
  const buf = crypto.randomBytes(4 * 1024 * 1024);
  const master = { kid: 'bench', key: crypto.randomBytes(32) };
  // Warm-up so the figure is throughput, not cipher initialisation.
  sealEnvelope(buf.subarray(0, 64 * 1024), { objectKey: 'bench', master });
  const t0 = performance.now();
  sealEnvelope(buf, { objectKey: 'bench', master });
  const ms = performance.now() - t0;
  return Math.round((buf.length / (1024 * 1024) / (ms / 1000)) * 10) / 10;
}

export interface StartedSecurityServer {
  server: RunningServer;
  deps: SecurityDeps;
  close(): Promise<void>;
}

/**
 * Starts the security server: signing keys, master keys, clients and policy under `dataDir` (generated
 * on first start), the MCP endpoint, and the OAuth endpoints. Port 0 picks a free port (tests).
 */
export async function startSecurityServer(
  config: SecurityServerConfigInput,
  opts: { version?: string } = {},
): Promise<StartedSecurityServer> {
  const cfg = securityConfigSchema.parse(config);
  const log = logger(SERVER_NAME);
  fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const version = opts.version ?? packageVersion();

  const signingKeys = await SigningKeyRing.open(cfg.dataDir);
  const masterKeys = new MasterKeyRing(cfg.dataDir);
  const payloadKeys = new PayloadKeyRing(cfg.dataDir, masterKeys);
  const clients = await ClientRegistry.open(cfg.dataDir, cfg.serverGroups);
  if (clients.generated)
    log.info('generated OAuth clients; plaintext credentials written once', {
      file: path.join(cfg.dataDir, 'clients.secret.json'),
      clients: clients.ids(),
    });
  const audit = new AuditLog(cfg.dataDir);
  const policy = new PolicyFile(cfg.policyFile ?? path.join(cfg.dataDir, 'policy.yaml'), cfg.serverGroups);
  policy.load();
  const idempotency = new IdempotencyStore(path.join(cfg.dataDir, 'idempotency'));

  // The issuer defaults to our own URL, known only once the port is bound.
  let issuerUrl = cfg.issuer;
  const issuer = () => issuerUrl ?? `http://${cfg.host}:${cfg.port}`;
  const tokens = new TokenIssuer(clients, signingKeys, { issuer, ttlS: cfg.tokenTtlS }, audit);
  const serviceToken = cfg.serviceToken;
  const store = cfg.storageUrl
    ? new ObjectStoreClient({ baseUrl: cfg.storageUrl.replace(/\/$/, ''), token: async () => serviceToken })
    : undefined;
  const objects = new ObjectCrypto(store, masterKeys, audit, {
    maxObjectBytes: cfg.maxObjectBytes,
    maxConcurrent: cfg.maxConcurrentCrypto,
  });

  const t0 = performance.now();
  await clients.verify('orchestrator', 'start-up timing probe');
  const startup = {
    aesGcmMBps: measureAesGcmMBps(),
    scryptVerifyMs: Math.round((performance.now() - t0) * 10) / 10,
    measuredAt: new Date().toISOString(),
  };

  const deps: SecurityDeps = {
    version,
    config: cfg,
    issuer,
    clients,
    signingKeys,
    masterKeys,
    payloadKeys,
    tokens,
    policy,
    audit,
    objects,
    idempotency,
    startup,
  };

  // Our own JWKS URL is known only once listening; no request can arrive before that.
  let ownUrl = '';
  let authenticator: RequestAuthenticator | undefined;
  const auditDecision = (d: AuthDecision) => {
    // Denied requests and allowed tool calls; allowed handshakes and tools/list would only add noise.
    if (d.outcome === 'allow' && d.tools.length === 0) return;
    audit.append({
      actor: (d.clientId ?? 'anonymous').slice(0, 200),
      action: 'mcp.call',
      resource: `${audienceFor(SERVER_NAME)}/${d.tools.join(',') || '(no tool)'}`.slice(0, 1100),
      outcome: d.outcome,
      details: { status: d.status ?? 200, error: d.error ?? null, reason: d.reason },
    });
  };
  const auth: RequestAuthenticator | undefined = cfg.requireAuth
    ? (req) => {
        authenticator ??= jwtAuthenticator({
          issuer: issuer(),
          jwksUrl: `${ownUrl}/.well-known/jwks.json`,
          audience: audienceFor(SERVER_NAME),
          scopeFor: toolScopeFor(SERVER_NAME, READ_ONLY_TOOLS),
          onDecision: auditDecision,
        });
        return authenticator(req);
      }
    : undefined;

  // The codec endpoints always require a token (audience mcp:codec), whatever MCP_AUTH says: they hand
  // out or use the keys of every encrypted payload.
  let codecAuthenticator: RequestAuthenticator | undefined;
  const limiter = new MinuteRateLimiter(cfg.tokenRequestsPerMinute);
  const codec = codecRoutes({
    tokens,
    limiter,
    payloadKeys,
    audit,
    authenticator: () =>
      (codecAuthenticator ??= jwtAuthenticator({
        issuer: issuer(),
        jwksUrl: `${ownUrl}/.well-known/jwks.json`,
        audience: CODEC_AUDIENCE,
      })),
    corsOrigins: cfg.codecCorsOrigins,
    maxBodyBytes: cfg.maxBodyBytes,
  });

  const server = await startMcpHttpServer({
    name: SERVER_NAME,
    version,
    // The Web UI's origins pass the kit's Origin check (meant for /codec/*; /mcp keeps its own authentication).
    config: { ...cfg, allowedOrigins: [...new Set([...cfg.allowedOrigins, ...cfg.codecCorsOrigins])] },
    buildServer: () => buildServer(deps),
    auth,
    routes: (app) => {
      codec(app);
      oauthRoutes({
        issuer,
        tokens,
        keys: signingKeys,
        limiter,
        audiences: () => clients.audiences(),
        scopes: () => clients.scopes(),
      })(app);
      serveProtectedResourceMetadata(app, {
        resource: audienceFor(SERVER_NAME),
        authorizationServers: () => [issuer()],
        resourceName: 'security MCP server',
      });
    },
    health: () => ({
      auditEntries: audit.count,
      chainHead: audit.chainHead().hash,
      activeSigningKid: signingKeys.active().kid,
    }),
  });
  issuerUrl ??= server.url;
  ownUrl = server.url;
  log.info('issuer', { issuer: issuer(), jwks: `${issuer()}/.well-known/jwks.json` });
  return { server, deps, close: async () => server.close() };
}

if (require.main === module) {
  runServerMain(SERVER_NAME, () => {
    // Aligned with the other servers: MCP_AUTH=jwt (the default) protects our /mcp too;
    // MCP_SECURITY_REQUIRE_AUTH=1 keeps it protected even with MCP_AUTH=off. /oauth/token and the JWKS stay public.
    const cfg = loadSecurityConfig();
    const settings = authSettingsFromEnv();
    const jwt = settings.mode === 'jwt';
    return startSecurityServer({
      ...cfg,
      requireAuth: cfg.requireAuth || jwt,
      // The other servers expect `iss` = MCP_AUTH_ISSUER; issue exactly that unless told otherwise.
      issuer: cfg.issuer ?? (jwt && process.env.MCP_AUTH_ISSUER ? settings.issuer : undefined),
    });
  });
}
