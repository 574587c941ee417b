import { z } from 'zod';

/** Tool input/output shapes of the security server. No side effects here. */

const objectKey = z
  .string()
  .min(1)
  .max(1024)
  .regex(
    /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[^\0\\]+$/,
    'a relative object key without "..", backslashes or NUL',
  )
  .describe('Object key in the store (relative path, e.g. "models/v2/model.onnx.enc")');
const objectUri = z
  .string()
  .min(1)
  .max(1100)
  .regex(/^storage:\/\/(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[^\0\\]+$/, 'a storage://<key> URI')
  .describe('Storage object URI, e.g. "storage://models/v2/model.onnx"');
const shortText = (what: string, max = 200) => z.string().min(1).max(max).describe(what);

export const authenticateInput = {
  clientId: shortText('OAuth client id, e.g. "orchestrator-data"'),
  clientSecret: z.string().min(1).max(512).describe('The client secret (never logged or stored)'),
  audience: z
    .string()
    .max(200)
    .optional()
    .describe(
      'Audience of the token: "mcp:<server>" (e.g. "mcp:data"); optional when the client has exactly one',
    ),
  scope: z
    .string()
    .max(1000)
    .optional()
    .describe('Space-separated scopes (e.g. "data:read"); default: all the client holds for the audience'),
};
export const authenticateOutput = {
  accessToken: z
    .string()
    .describe('Signed JWT (ES256) to send as "Authorization: Bearer <token>" to the audience server'),
  tokenType: z.literal('Bearer').describe('Always "Bearer"'),
  expiresIn: z.number().describe('Lifetime in seconds'),
  expiresAt: z.number().describe('Expiry, seconds since the Unix epoch'),
  audience: z.string().describe('The audience the token is valid for'),
  scopes: z.array(z.string()).describe('Scopes granted'),
  kid: z.string().describe('Id of the signing key (in the JWKS)'),
  jti: z.string().describe('Unique token id (recorded in the audit log)'),
};

export const authorizeInput = {
  subject: shortText('Who asks: a client id (e.g. "orchestrator-compute") or a user/principal id'),
  resource: shortText(
    'What is accessed, e.g. "ml_model_training_job_892341" or "storage://datasets/x.parquet"',
    1100,
  ),
  permissions: z
    .array(shortText('Permission name, e.g. "read_training_data"'))
    .min(1)
    .max(50)
    .describe('Permissions to check; all must be allowed'),
};
export const authorizeOutput = {
  allowed: z.boolean().describe('True only when every requested permission is allowed'),
  decision: z.enum(['allow', 'deny']).describe('Overall decision'),
  roles: z.array(z.string()).describe('Roles bound to the subject by the policy'),
  permissions: z
    .array(
      z.object({
        permission: z.string().describe('The permission checked'),
        effect: z.enum(['allow', 'deny']).describe('Decision for this permission'),
        reason: z
          .enum(['explicit_deny', 'allowed', 'no_matching_allow'])
          .describe('Why: a deny rule matched, an allow rule matched, or nothing allowed it'),
        rule: z.string().optional().describe('The deciding rule, e.g. "roles.reader.allow[read-all]"'),
      }),
    )
    .describe('Decision per permission'),
  auditSeq: z.number().describe('Sequence number of the audit entry recording this decision'),
};

export const encryptInput = {
  uri: objectUri,
  outputKey: objectKey
    .optional()
    .describe(
      'Key to write the ciphertext to; default "<source key>.enc". The ciphertext is bound to this key',
    ),
};
export const decryptInput = {
  uri: objectUri.describe('storage:// URI of an envelope written by encrypt'),
  outputKey: objectKey
    .optional()
    .describe('Key to write the plaintext to; default: the source key without ".enc" (or "<key>.dec")'),
};
export const cryptoOutput = {
  source: z
    .object({
      uri: z.string().describe('Object read'),
      version: z.number().describe('Its version in the store'),
      size: z.number().describe('Its size in bytes'),
    })
    .describe('The object that was read'),
  output: z
    .object({
      uri: z.string().describe('Object written'),
      key: z.string().describe('Its key'),
      version: z.number().describe('Its version'),
      sha256: z.string().describe('SHA-256 of the bytes written, as reported by the store'),
      size: z.number().describe('Bytes written'),
    })
    .describe('The object that was written'),
  kid: z.string().describe('Master key id that wraps the data key'),
  alg: z.literal('A256GCM').describe('Content encryption: AES-256-GCM, 96-bit nonce, 128-bit tag'),
  plaintextBytes: z.number().describe('Size of the plaintext'),
  plaintextSha256: z.string().describe('SHA-256 of the plaintext'),
};

export const rotateKeyInput = {
  reason: z.string().max(500).optional().describe('Why the key is rotated (recorded in the audit log)'),
};
export const rotateMasterKeyOutput = {
  kid: z.string().describe('The new active master key id'),
  previousKid: z
    .string()
    .optional()
    .describe('The previously active key id (retained: its envelopes stay readable)'),
  retainedKids: z.array(z.string()).describe('All key ids that can still decrypt'),
};
export const rotatePayloadKeyOutput = {
  kid: z.string().describe('The new active payload key id (Temporal payloads are encrypted with it from now on)'),
  previousKid: z
    .string()
    .optional()
    .describe('The previously active payload key id (retained: payloads encrypted with it stay readable)'),
  retainedKids: z.array(z.string()).describe('All payload key ids that can still decrypt'),
};
export const rotateSigningKeyOutput = {
  kid: z.string().describe('The new active signing key id'),
  previousKid: z.string().optional().describe('The previous signing key id (still in the JWKS)'),
  nextKid: z.string().optional().describe('Key id pre-published in the JWKS for the next rotation'),
  jwksKids: z.array(z.string()).describe('Key ids now published in the JWKS'),
  retiredKids: z
    .array(z.string())
    .describe('Key ids dropped from the JWKS by this rotation (beyond the retention count)'),
};

export const auditLogInput = {
  actor: shortText('Who acted (client id, workflow id, user)'),
  action: shortText('What was done, e.g. "data.access"'),
  resource: shortText('What it was done to', 1100),
  outcome: z.enum(['success', 'failure', 'allow', 'deny', 'info']).describe('Result of the action'),
  details: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Extra facts (JSON object, at most 8 KiB serialized); never secrets'),
};
export const auditEntryShape = z.object({
  seq: z.number().describe('Position in the chain, from 1'),
  ts: z.string().describe('ISO-8601 time the entry was appended'),
  actor: z.string().describe('Who acted'),
  action: z.string().describe('What was done'),
  resource: z.string().describe('What it was done to'),
  outcome: z.string().describe('Result'),
  details: z.record(z.string(), z.unknown()).describe('Extra facts'),
  prevHash: z.string().describe('Hash of the previous entry (64 zeros for the first)'),
  hash: z.string().describe('sha256(canonical entry + prevHash), hex'),
});
export const auditLogOutput = {
  seq: z.number().describe('Sequence number of the new entry'),
  ts: z.string().describe('Its timestamp'),
  prevHash: z.string().describe('Hash of the entry before it'),
  hash: z.string().describe('Its hash: the new chain head'),
};

export const verifyAuditChainInput = {};
export const verifyAuditChainOutput = {
  ok: z
    .boolean()
    .describe('True when every entry is intact, in order, and the log reaches the recorded head'),
  checked: z.number().describe('Entries read'),
  lastGoodSeq: z.number().describe('Last sequence number verified good'),
  headSeq: z.number().describe('Sequence number of the head this server wrote last'),
  headHash: z.string().describe('Hash of that head'),
  firstBadSeq: z.number().optional().describe('First sequence number found edited, missing or out of order'),
  problem: z.string().optional().describe('What is wrong at firstBadSeq'),
};

export const QUERY_AUDIT_MAX = 500;
export const queryAuditInput = {
  actor: z.string().max(200).optional().describe('Only entries by this actor'),
  action: z.string().max(200).optional().describe('Only this action'),
  resource: z.string().max(1100).optional().describe('Only this resource'),
  outcome: z.string().max(20).optional().describe('Only this outcome'),
  sinceSeq: z.number().int().min(1).optional().describe('Only entries with seq >= this (for paging)'),
  fromTs: z.iso.datetime({ offset: true }).optional().describe('Only entries at or after this ISO-8601 time'),
  toTs: z.iso.datetime({ offset: true }).optional().describe('Only entries at or before this ISO-8601 time'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(QUERY_AUDIT_MAX)
    .default(100)
    .describe(`Most entries to return (max ${QUERY_AUDIT_MAX})`),
};
export const queryAuditOutput = {
  entries: z.array(auditEntryShape).describe('Matching entries, oldest first'),
  truncated: z
    .boolean()
    .describe('True when more entries matched than the limit; continue with sinceSeq = last seq + 1'),
};

export const serverInfoInput = {};
export const serverInfoOutput = {
  server: z.string().describe('Server name'),
  version: z.string().describe('Server version'),
  tools: z.array(z.string()).describe('Tool names'),
  capabilities: z
    .record(z.string(), z.unknown())
    .describe('Algorithms, endpoints, audiences, scope scheme, storage, gpu'),
  limits: z.record(z.string(), z.unknown()).describe('Limits enforced by this server'),
  measured: z
    .record(z.string(), z.unknown())
    .describe(
      'Facts measured now or at start: key ids, client count, audit entries, chain head, AES-GCM throughput',
    ),
};
