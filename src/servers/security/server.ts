import fs from 'node:fs';
import os from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerTool, ToolError, type IdempotencyStore, type ToolContext, MCP_SERVER_OPTIONS } from '../kit';
import type { AuditEntry } from './audit-chain';
import type { AuditLog } from './audit-log';
import type { ClientRegistry } from './clients';
import type { SecurityServerConfig } from './config';
import { ENVELOPE_ALG, NONCE_BYTES, TAG_BYTES } from './envelope';
import type { MasterKeyRing } from './master-keys';
import type { PayloadKeyRing } from './payload-keys';
import type { ObjectCrypto } from './object-crypto';
import { decide } from './policy';
import { PolicyFileError, type PolicyFile } from './policy-file';
import * as s from './schemas';
import { RETAINED_SIGNING_KEYS, SIGNING_ALG, type SigningKeyRing } from './signing-keys';
import type { TokenIssuer } from './token-issuer';

export const SERVER_NAME = 'security';

/** Backends created once at start and shared by every per-request server. */
export interface SecurityDeps {
  version: string;
  config: SecurityServerConfig;
  issuer: () => string;
  clients: ClientRegistry;
  signingKeys: SigningKeyRing;
  masterKeys: MasterKeyRing;
  /** Data keys of the Temporal payload codec (src/codec), wrapped by the master keys. */
  payloadKeys: PayloadKeyRing;
  tokens: TokenIssuer;
  policy: PolicyFile;
  audit: AuditLog;
  objects: ObjectCrypto;
  idempotency: IdempotencyStore;
  /** Measured once at start. */
  startup: { aesGcmMBps: number; scryptVerifyMs: number; measuredAt: string };
}

export const TOOL_NAMES = [
  'authenticate',
  'authorize',
  'encrypt',
  'decrypt',
  'rotate_master_key',
  'rotate_payload_key',
  'rotate_signing_key',
  'audit_log',
  'verify_audit_chain',
  'query_audit',
  'server_info',
] as const;

/** Tools that need only `security:read` when the endpoint is authenticated (the rest need `security:write`). */
export const READ_ONLY_TOOLS = ['verify_audit_chain', 'query_audit', 'server_info'] as const;

const MAX_DETAILS_BYTES = 8 * 1024;

/** Who the audit log names as acting: the token's client when the endpoint is authenticated. */
function actorOf(ctx: ToolContext, fallback = 'anonymous'): string {
  return ctx.auth?.clientId ?? fallback;
}

function toOutput(e: AuditEntry) {
  return {
    seq: e.seq,
    ts: e.ts,
    actor: e.actor,
    action: e.action,
    resource: e.resource,
    outcome: e.outcome,
    details: e.details,
    prevHash: e.prev_hash,
    hash: e.hash,
  };
}

/** Builds the security MCP server (per request; the backends in `deps` are shared). */
export function buildServer(deps: SecurityDeps): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version: deps.version }, MCP_SERVER_OPTIONS);
  const { audit } = deps;

  registerTool(
    server,
    'authenticate',
    {
      title: 'Issue an access token',
      description:
        'OAuth2 client-credentials grant: checks the client id and secret and returns a short-lived ES256 JWT for one audience ("mcp:<server>") with scopes "<server>:read|write". The same grant is served over HTTP at POST /oauth/token. Every issue and refusal is audited.',
      inputSchema: s.authenticateInput,
      outputSchema: s.authenticateOutput,
      // Not idempotent by key on purpose: replaying a stored result would persist bearer tokens on disk.
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    async (args) => {
      const outcome = await deps.tokens.issue(
        {
          clientId: args.clientId,
          clientSecret: args.clientSecret,
          audience: args.audience,
          scope: args.scope,
        },
        'mcp',
      );
      if (!outcome.ok) throw new ToolError(outcome.description, outcome.error);
      const t = outcome.token;
      return {
        accessToken: t.accessToken,
        tokenType: t.tokenType,
        expiresIn: t.expiresIn,
        expiresAt: t.expiresAt,
        audience: t.audience,
        scopes: t.scopes,
        kid: t.kid,
        jti: t.jti,
      };
    },
  );

  registerTool(
    server,
    'authorize',
    {
      title: 'Decide an access request',
      description:
        'Policy decision for subject × resource × permissions from the RBAC policy file (roles, wildcard resources "*"/"**", explicit deny wins, default deny). Returns the decision per permission and the deciding rule; every decision is appended to the audit log (once per idempotency key).',
      inputSchema: s.authorizeInput,
      outputSchema: s.authorizeOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      let policy;
      try {
        policy = deps.policy.load();
      } catch (err) {
        if (!(err instanceof PolicyFileError)) throw err;
        audit.append({
          actor: args.subject,
          action: 'authorize',
          resource: args.resource,
          outcome: 'deny',
          details: { permissions: args.permissions, reason: 'policy_invalid', requestedBy: actorOf(ctx) },
        });
        throw new ToolError(
          `${err.message}; decisions are refused until the policy file is fixed`,
          'policy_invalid',
        );
      }
      const d = decide(policy, args.subject, args.resource, args.permissions);
      const entry = audit.append({
        actor: args.subject,
        action: 'authorize',
        resource: args.resource,
        outcome: d.allowed ? 'allow' : 'deny',
        details: { permissions: d.permissions, roles: d.roles, requestedBy: actorOf(ctx) },
      });
      return {
        allowed: d.allowed,
        decision: d.allowed ? 'allow' : 'deny',
        roles: d.roles,
        permissions: d.permissions,
        auditSeq: entry.seq,
      } as const;
    },
  );

  registerTool(
    server,
    'encrypt',
    {
      title: 'Encrypt a storage object',
      description:
        'AES-256-GCM envelope encryption of a storage object: a fresh random data key encrypts the bytes (96-bit random nonce, 16-byte tag), the active master key wraps the data key, and the object key and key id are bound as AAD. Reads the object from the storage server and writes the envelope back as a new object (default "<key>.enc"). Returns references, not bytes.',
      inputSchema: s.encryptInput,
      outputSchema: s.cryptoOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) =>
      deps.objects.encrypt({
        uri: args.uri,
        outputKey: args.outputKey,
        actor: actorOf(ctx),
        idempotencyKey: ctx.idempotencyKey,
      }),
  );

  registerTool(
    server,
    'decrypt',
    {
      title: 'Decrypt a storage object',
      description:
        'Opens an envelope written by encrypt (any retained master key id) and writes the plaintext back to the store (default: the key without ".enc"). Refuses altered ciphertexts, tags, AAD, moved objects and tags other than 16 bytes. Failures are audited.',
      inputSchema: s.decryptInput,
      outputSchema: s.cryptoOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) =>
      deps.objects.decrypt({
        uri: args.uri,
        outputKey: args.outputKey,
        actor: actorOf(ctx),
        idempotencyKey: ctx.idempotencyKey,
      }),
  );

  // Both key rings rotate alike: a new active key, the old ones kept so what they sealed stays readable,
  // and the rotation audited.
  const registerRotation = (
    name: string,
    title: string,
    description: string,
    outputSchema: typeof s.rotateMasterKeyOutput | typeof s.rotatePayloadKeyOutput,
    ring: Pick<MasterKeyRing, 'rotate' | 'kids'>,
    audited: { action: string; resource: string },
  ) =>
    registerTool(
      server,
      name,
      {
        title,
        description,
        inputSchema: s.rotateKeyInput,
        outputSchema,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
        idempotency: deps.idempotency,
      },
      async (args, ctx) => {
        const r = ring.rotate();
        audit.append({
          actor: actorOf(ctx),
          ...audited,
          outcome: 'success',
          details: { kid: r.kid, previousKid: r.previousKid ?? null, reason: args.reason ?? null },
        });
        return { kid: r.kid, previousKid: r.previousKid, retainedKids: ring.kids() };
      },
    );
  registerRotation(
    'rotate_master_key',
    'Rotate the master key',
    'Generates a new master key and makes it active for new envelopes; old key ids are retained so existing envelopes stay readable. Audited.',
    s.rotateMasterKeyOutput,
    deps.masterKeys,
    { action: 'key.rotate_master', resource: 'security:master-keys' },
  );
  registerRotation(
    'rotate_payload_key',
    'Rotate the Temporal payload key',
    'Generates a new AES-256 data key for the Temporal payload codec (encrypted workflow history) and makes it active; workers and clients encrypt with it after their next key refresh (at most MCP_CODEC_KEY_REFRESH_S) and decrypt with any retained key, so existing histories stay readable. Audited.',
    s.rotatePayloadKeyOutput,
    deps.payloadKeys,
    { action: 'key.rotate_payload', resource: 'security:payload-keys' },
  );

  registerTool(
    server,
    'rotate_signing_key',
    {
      title: 'Rotate the token signing key',
      description: `Activates the pre-published next ES256 signing key (new kid) for tokens issued from now on and pre-publishes a new next key, so verifiers holding a recent JWKS accept new tokens at once. The previous ${RETAINED_SIGNING_KEYS} keys stay in the JWKS so tokens they signed verify until they expire. Audited.`,
      inputSchema: s.rotateKeyInput,
      outputSchema: s.rotateSigningKeyOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      const r = await deps.signingKeys.rotate();
      audit.append({
        actor: actorOf(ctx),
        action: 'key.rotate_signing',
        resource: 'security:signing-keys',
        outcome: 'success',
        details: {
          kid: r.kid,
          previousKid: r.previousKid ?? null,
          retiredKids: r.retiredKids,
          reason: args.reason ?? null,
        },
      });
      return {
        kid: r.kid,
        previousKid: r.previousKid,
        nextKid: deps.signingKeys.nextKid(),
        jwksKids: deps.signingKeys.kids(),
        retiredKids: r.retiredKids,
      };
    },
  );

  registerTool(
    server,
    'audit_log',
    {
      title: 'Append an audit entry',
      description:
        'Appends an entry (actor, action, resource, outcome, details) to the append-only, hash-chained audit log: hash = sha256(canonical entry + prev_hash). Returns the new seq and chain head. Repeated calls with the same idempotency key append once.',
      inputSchema: s.auditLogInput,
      outputSchema: s.auditLogOutput,
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
      idempotency: deps.idempotency,
    },
    async (args, ctx) => {
      const details = { ...(args.details ?? {}) } as Record<string, unknown>;
      const size = Buffer.byteLength(JSON.stringify(details), 'utf8');
      if (size > MAX_DETAILS_BYTES)
        throw new ToolError(
          `details is ${size} bytes serialized; the limit is ${MAX_DETAILS_BYTES}: store large evidence as a storage object and reference its URI`,
          'too_large',
        );
      if (ctx.auth && !('submittedBy' in details)) details.submittedBy = ctx.auth.clientId;
      const e = audit.append({
        actor: args.actor,
        action: args.action,
        resource: args.resource,
        outcome: args.outcome,
        details,
      });
      return { seq: e.seq, ts: e.ts, prevHash: e.prev_hash, hash: e.hash };
    },
  );

  registerTool(
    server,
    'verify_audit_chain',
    {
      title: 'Verify the audit chain',
      description:
        'Re-reads the whole audit log and checks every hash and link against the chain head this server recorded. Names the first edited, deleted or reordered sequence number.',
      inputSchema: s.verifyAuditChainInput,
      outputSchema: s.verifyAuditChainOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const v = audit.verify();
      const head = audit.chainHead();
      return {
        ok: v.ok,
        checked: v.checked,
        lastGoodSeq: v.lastGoodSeq,
        headSeq: head.seq,
        headHash: head.hash,
        firstBadSeq: v.firstBadSeq,
        problem: v.problem,
      };
    },
  );

  registerTool(
    server,
    'query_audit',
    {
      title: 'Query the audit log',
      description: `Reads audit entries matching all given filters (actor, action, resource, outcome, seq, time range), oldest first, at most ${s.QUERY_AUDIT_MAX} per call; page with sinceSeq.`,
      inputSchema: s.queryAuditInput,
      outputSchema: s.queryAuditOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async (args) => {
      const iso = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
      const r = audit.query(
        {
          actor: args.actor,
          action: args.action,
          resource: args.resource,
          outcome: args.outcome,
          sinceSeq: args.sinceSeq,
          fromTs: iso(args.fromTs),
          toTs: iso(args.toTs),
        },
        args.limit,
      );
      return { entries: r.entries.map(toOutput), truncated: r.truncated };
    },
  );

  registerTool(
    server,
    'server_info',
    {
      title: 'Security server facts',
      description:
        'Version, tools, algorithms, endpoints, key ids, client count, audit entry count and chain head, limits, and facts measured on this machine.',
      inputSchema: s.serverInfoInput,
      outputSchema: s.serverInfoOutput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const issuer = deps.issuer();
      let policyRoles: number | string;
      try {
        policyRoles = Object.keys(deps.policy.load().roles).length;
      } catch (err) {
        policyRoles = `invalid: ${(err as Error).message}`;
      }
      let diskFreeBytes: number | undefined;
      try {
        const st = fs.statfsSync(deps.config.dataDir);
        diskFreeBytes = st.bavail * st.bsize;
      } catch {
        diskFreeBytes = undefined;
      }
      const head = audit.chainHead();
      return {
        server: SERVER_NAME,
        version: deps.version,
        tools: [...TOOL_NAMES],
        capabilities: {
          auth: 'OAuth2 client_credentials (RFC 6749), JWT access tokens (RFC 9068)',
          tokenSigningAlg: SIGNING_ALG,
          issuer,
          tokenEndpoint: `${issuer}/oauth/token`,
          jwksUri: `${issuer}/.well-known/jwks.json`,
          metadataUri: `${issuer}/.well-known/oauth-authorization-server`,
          audiences: deps.clients.audiences(),
          scopeScheme:
            '<server>:read for readOnlyHint tools, <server>:write for the others (write implies read), <server>/<tool> for one tool',
          authorization: 'RBAC policy file (YAML/JSON), wildcard resources, explicit deny wins, default deny',
          encryption: `${ENVELOPE_ALG} envelope (per-object data key wrapped by a master key)`,
          nonceBits: NONCE_BYTES * 8,
          tagBytes: TAG_BYTES,
          audit: 'append-only JSON-lines, SHA-256 hash chain, fsync per entry',
          storageConfigured: deps.config.storageUrl !== undefined,
          gpu: false,
        },
        limits: {
          tokenTtlS: deps.config.tokenTtlS,
          tokenRequestsPerMinutePerAddress: deps.config.tokenRequestsPerMinute,
          maxConcurrentCrypto: deps.config.maxConcurrentCrypto,
          maxObjectBytes: deps.config.maxObjectBytes,
          maxBodyBytes: deps.config.maxBodyBytes,
          queryAuditMaxLimit: s.QUERY_AUDIT_MAX,
          auditDetailsMaxBytes: MAX_DETAILS_BYTES,
          retainedSigningKeys: RETAINED_SIGNING_KEYS,
        },
        measured: {
          activeSigningKid: deps.signingKeys.active().kid,
          signingKids: deps.signingKeys.kids(),
          nextSigningKid: deps.signingKeys.nextKid(),
          activeMasterKid: deps.masterKeys.active().kid,
          masterKids: deps.masterKeys.kids(),
          clients: deps.clients.count,
          policyRoles,
          auditEntries: audit.count,
          chainHead: head,
          cryptoInFlight: deps.objects.inFlight,
          aesGcmMBpsAtStart: deps.startup.aesGcmMBps,
          clientSecretVerifyMsAtStart: deps.startup.scryptVerifyMs,
          measuredAt: deps.startup.measuredAt,
          cpuCount: os.cpus().length,
          loadAvg1m: os.loadavg()[0],
          diskFreeBytes,
          gpu: 'none (this machine has no GPU; AES uses the CPU, with AES-NI when available)',
        },
      };
    },
  );

  return server;
}
