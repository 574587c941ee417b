/**
 * Worker-thread entry holding the onnxruntime sessions. Inference runs off the HTTP event loop, and
 * onnxruntime-node's output arrays belong to this realm (under Jest they fail `instanceof Float32Array`
 * in the test realm), so the top-k selection happens here too and only small arrays go back.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { topK } from './top-k';
import type { LoadReply, RunReply, RuntimeValueInfo, WorkerReply, WorkerRequest } from './inference-protocol';

const sessions = new Map<string, ort.InferenceSession>();

function meta(
  names: readonly string[],
  metadata: readonly ort.InferenceSession.ValueMetadata[] | undefined,
): RuntimeValueInfo[] {
  return names.map((name, i) => {
    const m = metadata?.[i];
    return m && m.isTensor ? { name, type: m.type, shape: [...m.shape] } : { name, type: null, shape: [] };
  });
}

async function handle(req: WorkerRequest): Promise<LoadReply | RunReply | null> {
  if (req.op === 'load') {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(req.file, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    const old = sessions.get(req.session);
    sessions.set(req.session, session);
    if (old) await old.release();
    return {
      inputs: meta(session.inputNames, session.inputMetadata),
      outputs: meta(session.outputNames, session.outputMetadata),
      loadMs: performance.now() - t0,
      onnxruntimeVersion: ort.env.versions?.node ?? 'unknown',
    };
  }
  if (req.op === 'release') {
    const s = sessions.get(req.session);
    sessions.delete(req.session);
    if (s) await s.release();
    return null;
  }
  const session = sessions.get(req.session);
  if (!session) throw new Error(`no session ${req.session} in the inference worker`);
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  if (!inputName || !outputName) throw new Error('model has no input or no output');
  const input = new ort.Tensor('int64', BigInt64Array.from(req.rows.map((r) => BigInt(r))), [
    req.rows.length,
  ]);
  const t0 = performance.now();
  const out = await session.run({ [inputName]: input }, [outputName]);
  const inferenceMs = performance.now() - t0;
  const scores = out[outputName];
  if (!scores) throw new Error(`model produced no output ${outputName}`);
  const data = scores.data as Float32Array;
  const width = req.rows.length === 0 ? 0 : data.length / req.rows.length;
  if (!Number.isInteger(width))
    throw new Error(`output has ${data.length} values for ${req.rows.length} rows`);
  const top = req.rows.map((_, r) => {
    const row = data.subarray(r * width, (r + 1) * width);
    const items = topK(row, Math.min(req.k, width));
    return { items, scores: items.map((i) => row[i]!) };
  });
  return { top, width, inferenceMs };
}

parentPort?.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (result) => parentPort?.postMessage({ id: req.id, ok: true, result } satisfies WorkerReply),
    (err: unknown) =>
      parentPort?.postMessage({
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      } satisfies WorkerReply),
  );
});
