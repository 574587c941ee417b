import crypto from 'node:crypto';

/** What of a tool its schema hash covers: the shapes of its arguments and of its result. */
export interface ToolSchemas {
  inputSchema?: unknown;
  outputSchema?: unknown;
}

/**
 * JSON with object keys sorted at every level and no whitespace, so two equal schemas serialize the
 * same whatever order a server lists their keys in. `undefined` members are dropped as JSON does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * A tool's schema hash: hex SHA-256 of the canonical JSON of `{ inputSchema, outputSchema }` (an
 * absent schema counts as `null`). The worker returns it with every call (`CallResult.schemaHash`) and
 * the CLI computes it at plan time from `tools/list`, so a tool whose contract changed mid-run shows.
 * Descriptions and titles are part of the schemas' JSON only where the server puts them there.
 */
export function toolSchemaHash(tool: ToolSchemas): string {
  const doc = canonicalJson({ inputSchema: tool.inputSchema ?? null, outputSchema: tool.outputSchema ?? null });
  return crypto.createHash('sha256').update(doc).digest('hex');
}
