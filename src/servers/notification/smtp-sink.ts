import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { logger } from '../kit';

/** One message as the sink recorded it (a line of `messages.jsonl` in the sink folder). */
export interface SinkMessage {
  /** File name of the raw message (`.eml`) inside the sink folder. */
  file: string;
  /** SMTP envelope sender (MAIL FROM). */
  mailFrom: string;
  /** SMTP envelope recipients (RCPT TO). */
  rcptTo: string[];
  /** Size of the raw message in bytes. */
  size: number;
  /** SHA-256 of the raw message. */
  sha256: string;
  receivedAt: string;
}

export interface SmtpSinkOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Folder where each message is stored as `<time>-<id>.eml`. */
  dir: string;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Largest message accepted (SMTP SIZE). @default 25 MiB */
  maxBytes?: number;
}

export interface RunningSmtpSink {
  host: string;
  port: number;
  /** `smtp://host:port`, for `MCP_SMTP_URL`. */
  url: string;
  dir: string;
  /** Messages stored since this sink started. */
  readonly received: number;
  /** Messages recorded in the folder's index (all runs), newest last, at most `limit`. */
  list(limit?: number): SinkMessage[];
  close(): Promise<void>;
}

const INDEX_FILE = 'messages.jsonl';

/** Reads a sink folder's index; usable without a running sink (tests, the dashboard). */
export function readSinkIndex(dir: string, limit = 100): SinkMessage[] {
  const file = path.join(dir, INDEX_FILE);
  if (!fs.existsSync(file)) return [];
  const out: SinkMessage[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as SinkMessage);
    } catch {
      // A torn last line after a crash: that message's .eml may still be there, only unindexed.
    }
  }
  return out.slice(-Math.max(0, limit));
}

/**
 * A local SMTP server that accepts every message and stores it verbatim as an `.eml` file, so the
 * stack can send real mail without reaching the internet, and tests can read what arrived.
 * No TLS (loopback only) and no authentication; it never relays anything.
 */
export async function startSmtpSink(opts: SmtpSinkOptions): Promise<RunningSmtpSink> {
  const log = logger('smtp-sink');
  const host = opts.host ?? '127.0.0.1';
  const maxBytes = opts.maxBytes ?? 25 * 1024 * 1024;
  fs.mkdirSync(opts.dir, { recursive: true });
  let received = 0;

  const server = new SMTPServer({
    banner: 'mcp-orchestrator SMTP sink (stores, never relays)',
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: maxBytes,
    logger: false,
    // Close lingering client connections promptly on shutdown instead of the default 30 s.
    closeTimeout: 1000,
    onData(stream, session, callback) {
      const id = crypto.randomBytes(6).toString('hex');
      const file = `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.eml`;
      const tmp = path.join(opts.dir, `.${file}.part`);
      const out = fs.createWriteStream(tmp);
      const hash = crypto.createHash('sha256');
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      stream.pipe(out);
      const fail = (err: Error) => {
        fs.rm(tmp, { force: true }, () => callback(err));
      };
      stream.on('error', fail);
      out.on('error', fail);
      out.on('finish', () => {
        if (stream.sizeExceeded) {
          const err = Object.assign(new Error(`message exceeds the sink's limit of ${maxBytes} bytes`), {
            responseCode: 552,
          });
          fail(err);
          return;
        }
        // Rename after the last byte so a reader never sees half a message.
        fs.renameSync(tmp, path.join(opts.dir, file));
        const entry: SinkMessage = {
          file,
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          size,
          sha256: hash.digest('hex'),
          receivedAt: new Date().toISOString(),
        };
        fs.appendFileSync(path.join(opts.dir, INDEX_FILE), JSON.stringify(entry) + '\n');
        received += 1;
        callback(null, `stored as ${file}`);
      });
    },
  });
  server.on('error', (err) => log.warn('smtp sink error', { err: String(err) }));

  await new Promise<void>((resolve, reject) => {
    const net = server.server;
    net.once('error', reject);
    server.listen(opts.port, host, () => {
      net.off('error', reject);
      resolve();
    });
  });
  const { port } = server.server.address() as AddressInfo;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  log.info('listening', { url: `smtp://${hostForUrl}:${port}`, dir: opts.dir });
  return {
    host,
    port,
    url: `smtp://${hostForUrl}:${port}`,
    dir: opts.dir,
    get received() {
      return received;
    },
    list: (limit = 100) => readSinkIndex(opts.dir, limit),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (require.main === module) {
  // Stand-alone entry point: `tsx src/servers/notification/smtp-sink.ts` with MCP_SMTP_SINK_PORT/_DIR.
  const log = logger('smtp-sink');
  const port = Number(process.env.MCP_SMTP_SINK_PORT ?? 2525);
  const dir = process.env.MCP_SMTP_SINK_DIR ?? path.resolve('.data/notification/smtp-sink');
  startSmtpSink({ port, dir, host: process.env.MCP_SMTP_SINK_HOST ?? '127.0.0.1' })
    .then((sink) => {
      const stop = () => void sink.close().finally(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    })
    .catch((err: unknown) => {
      log.error('failed to start', { err: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    });
}
