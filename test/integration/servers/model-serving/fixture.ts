import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectStoreClient, type BaseServerConfig } from '../../../../src/servers/kit';
import { startStorageServer } from '../../../../src/servers/storage/main';
import { startModelServingServer } from '../../../../src/servers/model-serving/main';
import type { ModelServingOptions } from '../../../../src/servers/model-serving/config';
import { encodeRecommenderOnnx } from '../../../../src/servers/compute/onnx-encoder';
import { mulberry32 } from '../../../../src/servers/compute/als';

export const SERVICE_TOKEN = 'serving-test-service-token-0123456789';

export function baseConfig(dataDir: string, over: Partial<BaseServerConfig> = {}): BaseServerConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    allowedOrigins: [],
    maxBodyBytes: 64 * 1024,
    dataDir,
    ...over,
  };
}

/** Random factors and the ONNX model the compute server's encoder makes of them. */
export function randomRecommender(seed: number, users: number, items: number, factors: number) {
  const rand = mulberry32(seed);
  const userFactors = Float32Array.from({ length: users * factors }, () => rand() * 2 - 1);
  const itemFactors = Float32Array.from({ length: items * factors }, () => rand() * 2 - 1);
  const bytes = encodeRecommenderOnnx({
    userFactors,
    itemFactors,
    users,
    items,
    factors,
    docString: `seed ${seed}`,
  });
  /** Direct dot products of one user with every item, in float64. */
  const scores = (u: number) =>
    Array.from({ length: items }, (_, i) => {
      let s = 0;
      for (let a = 0; a < factors; a++) s += userFactors[u * factors + a]! * itemFactors[i * factors + a]!;
      return s;
    });
  return { users, items, factors, bytes, scores };
}

/** A real storage server and a model-serving service fetching from it, each with a fresh data dir. */
export async function startServingStack(
  opts: Partial<ModelServingOptions> = {},
  cfg: Partial<BaseServerConfig> = {},
) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'serving-it-'));
  const storage = await startStorageServer({
    ...baseConfig(path.join(root, 'storage'), { maxBodyBytes: 4 * 1024 * 1024 }),
    serviceToken: SERVICE_TOKEN,
    zones: 1,
  });
  const servingDir = path.join(root, 'serving');
  const options: ModelServingOptions = {
    storageUrl: storage.server.url,
    serviceToken: SERVICE_TOKEN,
    ...opts,
  };
  const serving = await startModelServingServer(baseConfig(servingDir, cfg), options);
  const objects = new ObjectStoreClient({ baseUrl: storage.server.url, token: async () => SERVICE_TOKEN });

  const call = async (
    method: string,
    p: string,
    body?: unknown,
    headers: Record<string, string> = {},
    base = serving.server.url,
  ) => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${SERVICE_TOKEN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    return { status: res.status, headers: res.headers, body: json };
  };
  return { root, storage, serving, servingDir, options, objects, call };
}
