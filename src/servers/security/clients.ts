import crypto from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { readJsonFile, writeSecretFile } from './secret-files';

const scrypt = promisify(crypto.scrypt) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: crypto.ScryptOptions,
) => Promise<Buffer>;

/** Audience of the MCP server named `server`: stable across hosts, ports and backup replicas. */
export function audienceFor(server: string): string {
  return `mcp:${server}`;
}

/** The server name of an `mcp:<server>` audience, or undefined for anything else. */
export function serverOfAudience(audience: string): string | undefined {
  const m = /^mcp:([a-z0-9][a-z0-9_-]*)$/.exec(audience);
  return m?.[1];
}

/** A scope belongs to audience `mcp:X` when it is `X:<level>` or `X/<tool>`. */
export function scopeBelongsTo(scope: string, audience: string): boolean {
  const server = serverOfAudience(audience);
  return server !== undefined && (scope.startsWith(`${server}:`) || scope.startsWith(`${server}/`));
}

const clientRecordSchema = z.object({
  clientId: z.string(),
  secretHash: z.string(),
  audiences: z.array(z.string()),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  description: z.string().optional(),
});
export type ClientRecord = z.infer<typeof clientRecordSchema>;
const clientsFileSchema = z.object({ version: z.literal(1), clients: z.array(clientRecordSchema) });

/** Plaintext credentials as written once to `clients.secret.json`. */
export interface ClientSecretEntry {
  clientId: string;
  clientSecret: string;
  audiences: string[];
  scopes: string[];
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

/** Audience of the payload codec's HTTP endpoints (`/codec/keys`, `/codec/encode|decode`). */
export const CODEC_AUDIENCE = 'mcp:codec';
/** Scope that fetches the payload keys (workers and clients that encrypt Temporal payloads). */
export const CODEC_KEYS_SCOPE = 'codec:keys';
/** Scope that decodes (and encodes) payloads through the codec endpoint (operators, Temporal Web UI). */
export const CODEC_DECODE_SCOPE = 'codec:decode';
/** Client of the workers and the CLI for the payload keys. */
export const CODEC_CLIENT_ID = 'orchestrator-codec';
/** Client of operators who read decoded payloads (Temporal Web UI, `temporal --codec-endpoint`). */
export const CODEC_OPERATOR_CLIENT_ID = 'codec-operator';

function newCodecClients(): ClientSecretEntry[] {
  return [
    {
      clientId: CODEC_CLIENT_ID,
      clientSecret: crypto.randomBytes(32).toString('base64url'),
      audiences: [CODEC_AUDIENCE],
      scopes: [CODEC_KEYS_SCOPE],
    },
    {
      clientId: CODEC_OPERATOR_CLIENT_ID,
      clientSecret: crypto.randomBytes(32).toString('base64url'),
      audiences: [CODEC_AUDIENCE],
      scopes: [CODEC_DECODE_SCOPE],
    },
  ];
}

async function toRecords(plain: ClientSecretEntry[], createdAt: string): Promise<ClientRecord[]> {
  const records: ClientRecord[] = [];
  for (const c of plain) {
    records.push({
      clientId: c.clientId,
      secretHash: await hashSecret(c.clientSecret),
      audiences: c.audiences,
      scopes: c.scopes,
      createdAt,
    });
  }
  return records;
}

async function hashSecret(secret: string, salt = crypto.randomBytes(16)): Promise<string> {
  const hash = await scrypt(secret, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

async function secretMatches(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scrypt(secret, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && crypto.timingSafeEqual(actual, expected);
}

/** Compared against when the client id is unknown, so timing does not reveal which ids exist. */
const DUMMY_HASH_PROMISE = hashSecret('not-a-real-secret');

/**
 * OAuth clients (client-credentials grant) in `<dataDir>/clients.json`, secrets stored as scrypt
 * hashes. On first start it generates one client per orchestrator server group
 * (`orchestrator-<server>`: read and write scopes on `mcp:<server>`), `orchestrator` (read scopes on
 * every server, for discovery), and the payload codec's `orchestrator-codec` (`codec:keys`) and
 * `codec-operator` (`codec:decode`) on audience `mcp:codec`, and writes the plaintext credentials once to `clients.secret.json` (0600).
 */
export class ClientRegistry {
  private constructor(
    readonly file: string,
    private clients: ClientRecord[],
    /** True when this start generated the clients (and the secrets file). */
    readonly generated: boolean,
  ) {}

  static async open(dataDir: string, serverGroups: string[]): Promise<ClientRegistry> {
    const file = path.join(dataDir, 'clients.json');
    const existing = readJsonFile<unknown>(file);
    if (existing !== undefined) {
      const parsed = clientsFileSchema.safeParse(existing);
      if (!parsed.success)
        throw new Error(
          `${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      const clients = parsed.data.clients;
      // Upgrade of a registry generated before the payload codec existed: add its two clients once
      // (never again once any client holds the codec audience, so a deliberate removal sticks).
      if (!clients.some((c) => c.audiences.includes(CODEC_AUDIENCE))) {
        const added = newCodecClients();
        const createdAt = new Date().toISOString();
        const secretFile = path.join(dataDir, 'clients.secret.json');
        const prev = readJsonFile<{ generatedAt?: string; clients?: ClientSecretEntry[] }>(secretFile);
        writeSecretFile(
          secretFile,
          JSON.stringify(
            { generatedAt: prev?.generatedAt ?? createdAt, clients: [...(prev?.clients ?? []), ...added] },
            null,
            2,
          ),
        );
        clients.push(...(await toRecords(added, createdAt)));
        writeSecretFile(file, JSON.stringify({ version: 1, clients }, null, 2));
      }
      return new ClientRegistry(file, clients, false);
    }
    const plain: ClientSecretEntry[] = [
      ...serverGroups.map((g) => ({
        clientId: `orchestrator-${g}`,
        clientSecret: crypto.randomBytes(32).toString('base64url'),
        audiences: [audienceFor(g)],
        scopes: [`${g}:read`, `${g}:write`],
      })),
      {
        clientId: 'orchestrator',
        clientSecret: crypto.randomBytes(32).toString('base64url'),
        audiences: serverGroups.map(audienceFor),
        scopes: serverGroups.map((g) => `${g}:read`),
      },
      ...newCodecClients(),
    ];
    const createdAt = new Date().toISOString();
    const records = await toRecords(plain, createdAt);
    // Secrets first: if we crash between the two writes, the next start regenerates both.
    writeSecretFile(
      path.join(dataDir, 'clients.secret.json'),
      JSON.stringify({ generatedAt: createdAt, clients: plain }, null, 2),
    );
    writeSecretFile(file, JSON.stringify({ version: 1, clients: records }, null, 2));
    return new ClientRegistry(file, records, true);
  }

  get count(): number {
    return this.clients.length;
  }

  ids(): string[] {
    return this.clients.map((c) => c.clientId);
  }

  /** Audiences any client may ask for. */
  audiences(): string[] {
    return [...new Set(this.clients.flatMap((c) => c.audiences))].sort();
  }

  scopes(): string[] {
    return [...new Set(this.clients.flatMap((c) => c.scopes))].sort();
  }

  /** The client when the id and secret match, else undefined (same timing either way). */
  async verify(clientId: string, clientSecret: string): Promise<ClientRecord | undefined> {
    const client = this.clients.find((c) => c.clientId === clientId);
    const ok = await secretMatches(clientSecret, client?.secretHash ?? (await DUMMY_HASH_PROMISE));
    return ok && client ? client : undefined;
  }
}
