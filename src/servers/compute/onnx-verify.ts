import * as ort from 'onnxruntime-node';
import { scoreUser, topK } from './als';
import { ONNX_IO } from './onnx-encoder';
import { startWorker } from './worker-launch';

export interface ParityReport {
  usersChecked: number;
  /** Largest |onnxruntime score − in-process score| over all checked users and items. */
  maxAbsDiff: number;
  /** Users whose top-K item list (order included) is the same in both. */
  topKIdenticalUsers: number;
  topK: number;
  allTopKIdentical: boolean;
  onnxruntimeVersion: string;
  inferenceMs: number;
}

/**
 * Loads an ONNX model with onnxruntime-node (CPU) and compares its scores for `users` with the
 * in-process model's, so an export is only reported good when an independent runtime agrees.
 */
export async function verifyOnnxParity(
  bytes: Uint8Array,
  model: { userFactors: Float32Array; itemFactors: Float32Array; items: number; factors: number },
  users: number[],
  k = 10,
): Promise<ParityReport> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const input = new ort.Tensor('int64', BigInt64Array.from(users.map((u) => BigInt(u))), [users.length]);
    const t0 = performance.now();
    const out = await session.run({ [ONNX_IO.input]: input });
    const inferenceMs = performance.now() - t0;
    const scores = out[ONNX_IO.output];
    if (!scores) throw new Error(`ONNX model has no output named ${ONNX_IO.output}`);
    const data = scores.data as Float32Array;
    if (data.length !== users.length * model.items) {
      throw new Error(`ONNX output has ${data.length} values, expected ${users.length * model.items}`);
    }
    let maxAbsDiff = 0;
    let identical = 0;
    const local = new Float64Array(model.items);
    users.forEach((u, row) => {
      scoreUser(model.userFactors, model.itemFactors, model.factors, u, model.items, local);
      const remote = data.subarray(row * model.items, (row + 1) * model.items);
      for (let i = 0; i < model.items; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(remote[i]! - local[i]!));
      const a = topK(local, k);
      const b = topK(remote, k);
      if (a.length === b.length && a.every((v, j) => v === b[j])) identical++;
    });
    return {
      usersChecked: users.length,
      maxAbsDiff,
      topKIdenticalUsers: identical,
      topK: k,
      allTopKIdentical: identical === users.length,
      onnxruntimeVersion: ort.env.versions?.node ?? 'unknown',
      inferenceMs,
    };
  } finally {
    await session.release();
  }
}

/**
 * Runs {@link verifyOnnxParity} in a worker thread (bounded by `timeoutMs`) and returns its report.
 */
export async function verifyOnnxParityInWorker(
  bytes: Uint8Array,
  model: { userFactors: Float32Array; itemFactors: Float32Array; items: number; factors: number },
  users: number[],
  k = 10,
  timeoutMs = 120_000,
): Promise<ParityReport> {
  const worker = startWorker('onnx-verify-worker', {
    bytes,
    userFactors: model.userFactors,
    itemFactors: model.itemFactors,
    items: model.items,
    factors: model.factors,
    users,
    k,
  });
  try {
    return await new Promise<ParityReport>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ONNX verification took longer than ${timeoutMs} ms`)), timeoutMs);
      worker.once('message', (m: { ok: boolean; report?: ParityReport; error?: string }) => {
        clearTimeout(timer);
        if (m.ok && m.report) resolve(m.report);
        else reject(new Error(m.error ?? 'ONNX verification failed'));
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`ONNX verification worker exited with code ${code}`));
      });
    });
  } finally {
    await worker.terminate();
  }
}
