import type { ServerOptions } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv-provider.js';

/**
 * Options every server passes to `new McpServer(info, MCP_SERVER_OPTIONS)`. Stateless Streamable HTTP
 * builds a server per request, and without a validator given the SDK builds a new Ajv instance (with
 * its formats) for each one: 0.4 ms of CPU a request, about 2.5 s of one 75 s benchmark run on two cores.
 * One validator caches its compiled schemas for the life of the process.
 */
export const MCP_SERVER_OPTIONS: ServerOptions = { jsonSchemaValidator: new AjvJsonSchemaValidator() };
