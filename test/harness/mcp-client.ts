import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** A real MCP client over real HTTP, for server tests. */
export async function connectMcp(mcpUrl: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'mcp-orchestrator-tests', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
  });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns the raw result (check `isError` yourself). */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args, _meta: meta })) as CallToolResult;
}

/** Calls a tool, fails the test on `isError`, returns the structured content. */
export async function callOk<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  meta?: Record<string, unknown>,
): Promise<T> {
  const r = await callTool(client, name, args, meta);
  if (r.isError) {
    const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    throw new Error(`${name} returned isError: ${text}`);
  }
  return r.structuredContent as T;
}

/** The text of an error result. */
export function errorText(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
}
