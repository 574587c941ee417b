import { Client, Connection } from '@temporalio/client';
import { loadDataConverter } from '../../codec';
import { clientTracingInterceptors } from '../../observability/tracing/temporal';

/** Where a bound webhook's deliveries go. */
export interface SignalTarget {
  workflowId: string;
  signalName: string;
  /** Temporal namespace; the server's default (TEMPORAL_NAMESPACE) when absent. */
  namespace?: string;
}

/** Sends a signal; an interface so the webhook receiver can be tested without Temporal. */
export interface Signaler {
  signal(target: SignalTarget, payload: unknown): Promise<void>;
  /** Whether a connection is currently open (for server_info); never connects. */
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface TemporalSignalerOptions {
  /** `host:port` of the Temporal frontend (TEMPORAL_ADDRESS). */
  address: string;
  /** Default namespace (TEMPORAL_NAMESPACE). */
  namespace: string;
  /** Deadline of one signal call. @default 10000 */
  signalTimeoutMs?: number;
}

/**
 * Signals workflows through a @temporalio/client Client. The connection is opened on the first
 * delivery, not at start-up, so the integration server starts (and serves everything else) while
 * Temporal is down; a failed connect is retried on the next delivery.
 */
export class TemporalSignaler implements Signaler {
  private connection?: Promise<Connection>;
  private readonly clients = new Map<string, Client>();
  private open = false;

  constructor(private readonly opts: TemporalSignalerOptions) {}

  get connected(): boolean {
    return this.open;
  }

  private async connect(): Promise<Connection> {
    if (!this.connection) {
      this.connection = Connection.connect({ address: this.opts.address, connectTimeout: '5s' }).then(
        (c) => {
          this.open = true;
          return c;
        },
        (err: unknown) => {
          this.connection = undefined;
          throw err;
        },
      );
    }
    return this.connection;
  }

  async signal(target: SignalTarget, payload: unknown): Promise<void> {
    const connection = await this.connect();
    const namespace = target.namespace ?? this.opts.namespace;
    let client = this.clients.get(namespace);
    if (!client) {
      client = new Client({ connection, namespace, dataConverter: await loadDataConverter(), interceptors: { workflow: clientTracingInterceptors() } });
      this.clients.set(namespace, client);
    }
    const handle = client.workflow.getHandle(target.workflowId);
    const deadline = Date.now() + (this.opts.signalTimeoutMs ?? 10_000);
    await connection.withDeadline(deadline, () => handle.signal(target.signalName, payload));
  }

  async close(): Promise<void> {
    const c = this.connection;
    this.connection = undefined;
    this.clients.clear();
    this.open = false;
    if (c) await c.then((conn) => conn.close()).catch(() => undefined);
  }
}
