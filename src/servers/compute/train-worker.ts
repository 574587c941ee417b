/**
 * Worker-thread entry for one training job: split, ALS epochs, evaluation. The main thread only moves
 * typed arrays in and out, so the MCP server keeps answering while a job runs, and cancel_job can stop
 * a job at any instant by terminating this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { scoreUser, trainAls, type AlsParams } from './als';
import { evaluationUsers, itemPopularity, rankingMetrics, splitHoldout, type HoldoutStrategy, type Interactions } from './evaluation';

/** What the job manager sends to the worker. */
export interface TrainWorkerInput {
  data: Interactions;
  params: AlsParams;
  holdout: HoldoutStrategy;
  evalK: number;
  evalMaxUsers: number;
}

/** Messages the worker posts back. */
export type TrainWorkerMessage =
  | { type: 'progress'; epoch: number; epochs: number; loss: number; elapsedMs: number }
  | { type: 'phase'; phase: 'training' | 'evaluating'; trainPairs: number; heldOutPairs: number }
  | {
      type: 'done';
      userFactors: Float32Array;
      itemFactors: Float32Array;
      popularity: Float64Array;
      trainMs: number;
      evalMs: number;
      evaluation: {
        k: number;
        users: number;
        model: { hitRate: number; ndcg: number };
        popularity: { hitRate: number; ndcg: number };
      } | null;
    };

function run(input: TrainWorkerInput): void {
  const post = (m: TrainWorkerMessage, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(m, transfer);
  const split = splitHoldout(input.data, input.holdout);
  post({ type: 'phase', phase: 'training', trainPairs: split.train.indices.length, heldOutPairs: split.heldOutPairs });
  const t0 = performance.now();
  const model = trainAls(split.train, input.params, (r) =>
    post({ type: 'progress', epoch: r.epoch, epochs: input.params.epochs, loss: r.loss, elapsedMs: r.elapsedMs }),
  );
  const trainMs = performance.now() - t0;
  const popularity = itemPopularity(split.train);
  let evaluation: Extract<TrainWorkerMessage, { type: 'done' }>['evaluation'] = null;
  const t1 = performance.now();
  if (split.heldOutPairs > 0) {
    post({ type: 'phase', phase: 'evaluating', trainPairs: split.train.indices.length, heldOutPairs: split.heldOutPairs });
    const users = evaluationUsers(split.train, split.test, input.evalMaxUsers, input.params.seed);
    const k = input.params.factors;
    const items = input.data.items;
    const buf = new Float64Array(items);
    const m = rankingMetrics(split.train, split.test, users, input.evalK, (u) => scoreUser(model.userFactors, model.itemFactors, k, u, items, buf));
    const p = rankingMetrics(split.train, split.test, users, input.evalK, () => popularity);
    evaluation = { k: input.evalK, users: m.users, model: { hitRate: m.hitRate, ndcg: m.ndcg }, popularity: { hitRate: p.hitRate, ndcg: p.ndcg } };
  }
  const evalMs = performance.now() - t1;
  post(
    { type: 'done', userFactors: model.userFactors, itemFactors: model.itemFactors, popularity, trainMs, evalMs, evaluation },
    [model.userFactors.buffer as ArrayBuffer, model.itemFactors.buffer as ArrayBuffer],
  );
}

if (parentPort) run(workerData as TrainWorkerInput);
