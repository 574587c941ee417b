/** Messages between the service and its inference worker thread (structured-clone safe). */

export type WorkerRequest =
  | { id: number; op: 'load'; session: string; file: string }
  | { id: number; op: 'run'; session: string; rows: number[]; k: number }
  | { id: number; op: 'release'; session: string };

/** Input/output metadata as onnxruntime reports it. */
export interface RuntimeValueInfo {
  name: string;
  type: string | null;
  shape: (number | string)[];
}

export interface LoadReply {
  inputs: RuntimeValueInfo[];
  outputs: RuntimeValueInfo[];
  loadMs: number;
  onnxruntimeVersion: string;
}

export interface RunReply {
  /** One entry per requested row: top-k item indices and their scores, best first. */
  top: { items: number[]; scores: number[] }[];
  /** Scores per row the graph produced. */
  width: number;
  inferenceMs: number;
}

export type WorkerReply =
  { id: number; ok: true; result: LoadReply | RunReply | null } | { id: number; ok: false; error: string };
