import type { Worker } from 'node:worker_threads';
import type { Logger } from '../kit';
import type { LoadReply, RunReply, WorkerReply, WorkerRequest } from './inference-protocol';
import { startSiblingWorker } from './worker-launch';

/** An inference took longer than its timeout; the worker was restarted. */
export class InferenceTimeoutError extends Error {
  override name = 'InferenceTimeoutError';
}

/** onnxruntime reported an error (bad model, bad input). */
export class InferenceError extends Error {
  override name = 'InferenceError';
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
type Distributive<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * Owns the inference worker thread and the sessions loaded in it. If the worker dies or an inference
 * hangs past its timeout (a native call cannot be interrupted otherwise), the worker is terminated and
 * the next call starts a fresh one that reloads every session from its file, so one bad request costs
 * a reload, not the service.
 */
export class InferenceHost {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Session id → model file, to reload after a worker restart. */
  private readonly files = new Map<string, string>();
  private closed = false;
  /** Workers started so far (1 in a healthy life). */
  restarts = -1;
  onnxruntimeVersion: string | null = null;

  constructor(
    private readonly log: Logger,
    private readonly loadTimeoutMs: number,
  ) {}

  get sessions(): number {
    return this.files.size;
  }

  private spawn(): Worker {
    const w = startSiblingWorker('inference-worker');
    this.restarts++;
    w.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.result);
      else p.reject(new InferenceError(m.error));
    });
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.ready = undefined;
      this.failAll(new InferenceError(`inference worker stopped: ${why}`));
      if (!this.closed) this.log.warn('inference worker stopped', { why });
    };
    w.on('error', (err) => lost(err.message));
    w.on('exit', (code) => lost(`exit code ${code}`));
    return w;
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private send<T>(w: Worker, req: Distributive<WorkerRequest>, timeoutMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new InferenceTimeoutError(
            `${req.op} took longer than ${timeoutMs} ms; the inference worker was restarted`,
          ),
        );
        void this.restart(w);
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      w.postMessage({ ...req, id });
    });
  }

  private async restart(w: Worker): Promise<void> {
    if (this.worker === w) {
      this.worker = undefined;
      this.ready = undefined;
    }
    this.failAll(new InferenceError('inference worker restarted'));
    await w.terminate();
  }

  /** The live worker, started (and its sessions reloaded) on demand. */
  private async live(): Promise<Worker> {
    if (this.closed) throw new InferenceError('inference host is closed');
    if (this.worker && this.ready) {
      await this.ready;
      return this.worker;
    }
    const w = this.spawn();
    this.worker = w;
    const reloads = [...this.files].map(([session, file]) =>
      this.send<LoadReply>(w, { op: 'load', session, file }, this.loadTimeoutMs),
    );
    this.ready = Promise.all(reloads).then(
      () => undefined,
      (err: unknown) =>
        this.log.error('reloading sessions after a worker restart failed', { err: String(err) }),
    );
    await this.ready;
    return w;
  }

  /** Loads (or replaces) a session from an ONNX file. */
  async load(session: string, file: string): Promise<LoadReply> {
    const w = await this.live();
    const reply = await this.send<LoadReply>(w, { op: 'load', session, file }, this.loadTimeoutMs);
    this.files.set(session, file);
    this.onnxruntimeVersion = reply.onnxruntimeVersion;
    return reply;
  }

  /** Scores `rows` and returns each row's top `k`. */
  async run(session: string, rows: number[], k: number, timeoutMs: number): Promise<RunReply> {
    if (!this.files.has(session)) throw new InferenceError(`no session ${session}`);
    const w = await this.live();
    return this.send<RunReply>(w, { op: 'run', session, rows, k }, timeoutMs);
  }

  /** Drops a session; unknown sessions are fine (undeploy is idempotent). */
  async release(session: string): Promise<void> {
    if (!this.files.delete(session)) return;
    if (!this.worker) return;
    await this.send(this.worker, { op: 'release', session }, this.loadTimeoutMs).catch((err: unknown) =>
      this.log.warn('releasing a session failed', { session, err: String(err) }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new InferenceError('inference host is closed'));
    if (w) await w.terminate();
  }
}
