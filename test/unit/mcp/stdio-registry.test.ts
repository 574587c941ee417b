import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { endpointLabel, expandVars, groupUsesStackAuth, loadRegistry, usesStackAuth } from '../../../src/registry/registry';
import { canonicalJson, toolSchemaHash } from '../../../src/mcp/schema-hash';

const MAIN = path.resolve(__dirname, '../../../config/servers.yaml');
const EXAMPLE = path.resolve(__dirname, '../../../pipelines/examples/filesystem.registry.yaml');

describe('registry: stdio and third-party endpoints', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stdio-registry-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Loads servers.yaml plus an extra file holding `yaml`; returns the registry or the error message. */
  const withExtra = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
    const file = path.join(dir, `extra-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, yaml);
    return { file, load: () => loadRegistry(MAIN, env, { extra: [file] }) };
  };
  const errorOf = (yaml: string): string => {
    try {
      withExtra(yaml).load();
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the registry to be refused');
  };

  test('when the example registry is loaded through MCP_REGISTRY_EXTRA, then group fs is a stdio server beside ours, its path bound to the file', () => {
    const reg = loadRegistry(MAIN, { MCP_REGISTRY_EXTRA: EXAMPLE });
    expect(Object.keys(reg.groups)).toEqual(expect.arrayContaining(['data', 'storage', 'fs']));
    const ep = reg.groups.fs!.endpoints[0]!;
    expect(ep.transport).toBe('stdio');
    if (ep.transport !== 'stdio') return;
    expect(ep.command).toBe('node');
    expect(ep.args[0]).toBe(path.resolve(__dirname, '../../../node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'));
    expect(fs.existsSync(ep.args[0]!)).toBe(true);
    // Worker variables are resolved when the process starts, not at load.
    expect(ep.args[1]).toBe('${MCP_DATA_ROOT:-.data}/storage/inbox');
    expect(ep.shutdown_grace).toBe(3000);
    expect(endpointLabel(ep)).toMatch(/^stdio:node .*server-filesystem/);
    expect(groupUsesStackAuth(reg, 'fs')).toBe(false);
    expect(groupUsesStackAuth(reg, 'data')).toBe(true);
  });

  test('when an endpoint omits transport, then command means stdio and url means http', () => {
    const reg = withExtra('groups:\n  a: { endpoints: [{ command: my-server, args: [--flag], env: { KEY: "${SECRET}" }, cwd: /tmp }] }\n  b: { endpoints: [{ url: "https://mcp.example.com/mcp" }] }\n').load();
    expect(reg.groups.a!.endpoints[0]).toMatchObject({ transport: 'stdio', command: 'my-server', args: ['--flag'], env: { KEY: '${SECRET}' }, cwd: '/tmp', priority: 1 });
    expect(reg.groups.b!.endpoints[0]).toMatchObject({ transport: 'http', url: 'https://mcp.example.com/mcp' });
  });

  test('when a stdio endpoint has no command, then loading fails naming the file and the field', () => {
    const { file, load } = withExtra('groups:\n  fs:\n    endpoints:\n      - { transport: stdio, args: [x] }\n');
    expect(load).toThrow(`invalid server registry ${file}: groups.fs.endpoints[0].command: required`);
  });

  test('when a stdio endpoint has a misspelled key, then loading fails naming it instead of ignoring it', () => {
    expect(errorOf('groups:\n  fs: { endpoints: [{ command: node, argz: [x] }] }\n')).toMatch(/groups\.fs\.endpoints\[0\]: unknown key 'argz'/);
  });

  test('when the transport is unknown or cannot be told, then the message says which transports exist', () => {
    expect(errorOf('groups:\n  g: { endpoints: [{ transport: grpc, url: "http://x/mcp" }] }\n')).toMatch(
      /groups\.g\.endpoints\[0\]\.transport: an endpoint needs transport: http \(with url\) or transport: stdio \(with command\)/,
    );
    expect(errorOf('groups:\n  g: { endpoints: [{ args: [x] }] }\n')).toMatch(/groups\.g\.endpoints\[0\]\.transport/);
  });

  test('when a variable reference or an env name is malformed, then loading fails at that place', () => {
    const msg = errorOf('groups:\n  g: { endpoints: [{ command: node, args: ["${not-a-var}"], env: { "bad-name": x } }] }\n');
    expect(msg).toMatch(/groups\.g\.endpoints\[0\]\.args\[0\]: '\$\{not-a-var\}' is not a variable reference/);
    expect(msg).toMatch(/groups\.g\.endpoints\[0\]\.env\.bad-name: bad key: must be an environment variable name/);
  });

  test('when an extra file redeclares one of our groups or sets defaults, then it is refused', () => {
    expect(errorOf('groups:\n  data: { endpoints: [{ url: "http://127.0.0.1:1/mcp" }] }\n')).toMatch(/groups\.data: group 'data' is already declared/);
    expect(errorOf('defaults: { health_check_interval: 5s }\ngroups: {}\n')).toMatch(/\(top level\): unknown key 'defaults'/);
  });

  test('when an HTTP server brings its own token, then the stack token is never meant for it, and asking for both is refused', () => {
    const reg = withExtra(
      'groups:\n  w:\n    endpoints:\n      - { url: "https://w.example/mcp", bearer_token_env: W_TOKEN, headers: { X-Tenant: "${TENANT:-acme}" } }\n  p:\n    endpoints: [{ url: "https://p.example/mcp" }]\n',
    ).load();
    expect(usesStackAuth(reg.groups.w!.endpoints[0]!)).toBe(false);
    // An HTTP server declared in an extra file is third-party: no stack token unless it says auth: stack.
    expect(reg.groups.p!.endpoints[0]).toMatchObject({ auth: 'none' });
    expect(usesStackAuth(reg.groups.p!.endpoints[0]!)).toBe(false);
    expect(errorOf('groups:\n  w: { endpoints: [{ url: "https://w.example/mcp", bearer_token_env: W_TOKEN, auth: stack }] }\n')).toMatch(
      /groups\.w\.endpoints\[0\]\.auth: auth: stack sends our own token/,
    );
    expect(errorOf('groups:\n  w: { endpoints: [{ url: "https://w.example/mcp", bearer_token_env: "not a name" }] }\n')).toMatch(/bearer_token_env: must be an environment variable name/);
  });

  test('when MCP_<GROUP>_ENDPOINTS replaces a third-party group, then the replicas keep its credentials', () => {
    const { file } = withExtra('groups:\n  w: { endpoints: [{ url: "https://w.example/mcp", bearer_token_env: W_TOKEN }] }\n');
    const loaded = loadRegistry(MAIN, { MCP_W_ENDPOINTS: 'https://w1.example/mcp,https://w2.example/mcp' }, { extra: [file] });
    expect(loaded.groups.w!.endpoints).toEqual([
      expect.objectContaining({ url: 'https://w1.example/mcp', priority: 1, bearer_token_env: 'W_TOKEN' }),
      expect.objectContaining({ url: 'https://w2.example/mcp', priority: 2, bearer_token_env: 'W_TOKEN' }),
    ]);
    expect(loaded.groups.w!.endpoints.every((e) => !usesStackAuth(e))).toBe(true);
  });
});

describe('${VAR} references', () => {
  test('when set, the variable is used; when unset, its default; $${ stays literal', () => {
    expect(expandVars('${ROOT}/fs', { ROOT: '/data' }, 'x')).toBe('/data/fs');
    expect(expandVars('${ROOT:-.data}/fs', {}, 'x')).toBe('.data/fs');
    expect(expandVars('${ROOT:-.data}/fs', { ROOT: '' }, 'x')).toBe('.data/fs');
    expect(expandVars('cost $${n}', {}, 'x')).toBe('cost ${n}');
  });
  test('when a variable without default is unset, then the error names the place and the variable', () => {
    expect(() => expandVars('--key=${API_KEY}', {}, 'stdio server of group w args[0]')).toThrow('stdio server of group w args[0]: environment variable API_KEY is not set (referenced as ${API_KEY})');
  });
});

describe('tool schema hash', () => {
  const input = { type: 'object', properties: { path: { type: 'string' }, head: { type: 'number' } }, required: ['path'] };
  test('when the same schemas list their keys in another order, then the hash is the same', () => {
    const reordered = { required: ['path'], properties: { head: { type: 'number' }, path: { type: 'string' } }, type: 'object' };
    expect(toolSchemaHash({ inputSchema: input })).toBe(toolSchemaHash({ inputSchema: reordered, outputSchema: undefined }));
    expect(toolSchemaHash({ inputSchema: input })).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: undefined }] })).toBe('{"a":[2,{"d":3}],"b":1}');
  });
  test('when an argument or the output shape changes, then the hash changes', () => {
    const base = toolSchemaHash({ inputSchema: input });
    expect(toolSchemaHash({ inputSchema: { ...input, required: ['path', 'head'] } })).not.toBe(base);
    expect(toolSchemaHash({ inputSchema: input, outputSchema: { type: 'object' } })).not.toBe(base);
  });
});
