import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from './helpers';
import { startDataServer, type StartedDataServer } from '../../../src/servers/data/main';

const ROOT = path.join(__dirname, '../../..');

jest.setTimeout(120_000);

describe('mcp-orch plan: bad pipelines are refused before anything runs', () => {
  let dir: string;
  let data: StartedDataServer;
  const spec = (name: string, body: string) => {
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, body);
    return file;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-orch-cli-'));
    data = await startDataServer({ host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'data'), seedRows: 1000 });
  });
  afterAll(async () => {
    await data?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when the spec has a cycle, then plan exits non-zero and names the cycle', async () => {
    const file = spec('cycle', `
name: cycle
steps:
  a: { server: data, tool: sql_query, args: { sql: "select 1" }, needs: [c] }
  b: { server: data, tool: sql_query, args: { sql: "select 1" }, needs: [a] }
  c: { server: data, tool: sql_query, args: { sql: "select 1" }, needs: [b] }
`);
    const r = await cli(['plan', file, '--offline']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/dependency cycle: [abc] -> [abc] -> [abc] -> [abc]/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user mistake
  });

  it('when an argument references an unknown step, then plan names the step, the path and the line', async () => {
    const file = spec('badref', `
name: badref
steps:
  a: { server: data, tool: sql_query, args: { sql: "select 1" } }
  b: { server: storage, tool: download_file, args: { key: "\${steps.extrct.result.uri}" } }
`);
    const r = await cli(['plan', file, '--offline']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("steps.b.args.key: unknown step 'extrct'");
  });

  it('when a step names a tool the live server does not have, then plan exits non-zero and lists the tools', async () => {
    const file = spec('badtool', `
name: badtool
steps:
  a: { server: data, tool: sql_querry, args: { sql: "select 1" } }
  b: { server: data, tool: sql_query, args: { sql: "select 1", max_rows: "many" } }
`);
    const r = await cli(['plan', file], { MCP_DATA_ENDPOINTS: data.server.mcpUrl });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("server 'data' has no tool 'sql_querry' (did you mean 'sql_query'?)");
    expect(r.stderr).toMatch(/steps\.b\.args: data\/sql_query: 'max_rows' must be (integer|number)/);
  });

  it('when the spec is valid, then plan prints levels and the critical path and exits 0', async () => {
    const r = await cli(['plan', path.join(ROOT, 'pipelines/hello.yaml'), '--json'], { MCP_DATA_ENDPOINTS: data.server.mcpUrl });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { plan: { levels: string[][]; criticalPath: string[] }; unchecked: string[] };
    expect(out.plan.levels[0]).toEqual(['schema']);
    expect(out.plan.criticalPath[0]).toBe('schema');
    expect(out.unchecked).not.toContain('data');
  });

  it('when the spec file does not exist, then the error is one line', async () => {
    const r = await cli(['plan', path.join(dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no such file');
  });
});
