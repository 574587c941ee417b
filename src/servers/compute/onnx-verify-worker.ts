/**
 * Worker-thread entry for ONNX verification: onnxruntime inference and the full score comparison run
 * off the event loop, and in a realm of their own (onnxruntime-node's native output arrays then
 * belong to the same realm as the code that checks them).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { verifyOnnxParity } from './onnx-verify';

interface VerifyJob {
  bytes: Uint8Array;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  items: number;
  factors: number;
  users: number[];
  k: number;
}

const job = workerData as VerifyJob;
verifyOnnxParity(job.bytes, job, job.users, job.k).then(
  (report) => parentPort?.postMessage({ ok: true, report }),
  (err: unknown) => parentPort?.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
