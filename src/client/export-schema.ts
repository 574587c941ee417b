import fs from 'node:fs';
import path from 'node:path';
import { pipelineJsonSchema } from '../shared/spec';

/** Writes schema/pipeline.schema.json so editors (YAML language server) validate pipeline specs. */
const out = path.resolve(__dirname, '../../schema/pipeline.schema.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
const schema = { $id: 'https://mcp-orchestrator.dev/pipeline.schema.json', title: 'mcp-orchestrator pipeline', ...(pipelineJsonSchema() as object) };
fs.writeFileSync(out, JSON.stringify(schema, null, 2) + '\n');
process.stderr.write(`wrote ${path.relative(process.cwd(), out)}\n`);
