import express, { type NextFunction, type Request, type Response } from 'express';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import type { z } from 'zod';
import type { BaseServerConfig, ClientRateLimiter, Logger } from '../kit';
import { ServingError, type Deployments } from './deployments';
import { deployRequestSchema, modelNameSchema, predictRequestSchema, versionSchema } from './schemas';
import { bearerMatches } from './service-auth';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface RoutesOptions {
  config: BaseServerConfig;
  deployments: Deployments;
  /** When set, `/v1/*` requires `Authorization: Bearer <serviceToken>`. */
  serviceToken?: string;
  log: Logger;
  /** Per-client (remote address) token bucket on `/v1/*`; absent or disabled: no limit. */
  limiter?: ClientRateLimiter;
  /** Extra facts for `/healthz`. */
  health: () => Record<string, unknown>;
}

function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ error: { code, message } });
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : what}: ${i.message}`)
      .join('; ');
    throw new ServingError(400, 'bad_request', `invalid ${what}: ${issues}`);
  }
  return r.data;
}

/**
 * The serving HTTP API on an express app: Host/Origin checks as in the kit (DNS-rebinding
 * protection), bearer authentication, a body size limit, JSON errors `{ error: { code, message } }`.
 */
export function buildServingApp(opts: RoutesOptions): express.Express {
  const { deployments: d } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.use(hostHeaderValidation([...LOOPBACK_NAMES, ...opts.config.allowedHosts]));
  app.use((req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin && !opts.config.allowedOrigins.includes(origin))
      return sendError(res, 403, 'forbidden_origin', `origin ${origin} is not allowed`);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', ...opts.health() });
  });

  app.use('/v1', (req: Request, res: Response, next: NextFunction) => {
    if (!opts.serviceToken || bearerMatches(req.headers.authorization, opts.serviceToken)) return next();
    const why = req.headers.authorization ? 'invalid_token' : 'invalid_request';
    sendError(res, 401, 'unauthorized', 'a valid bearer token (the service token) is required', {
      'WWW-Authenticate': `Bearer realm="model-serving", error="${why}"`,
    });
  });
  app.use('/v1', (req: Request, res: Response, next: NextFunction) => {
    if (!opts.limiter?.enabled) return next();
    // Callers share one service token, so the remote address is what tells clients apart.
    const r = opts.limiter.take(`addr:${req.socket.remoteAddress ?? 'unknown'}`);
    res.setHeader('RateLimit-Limit', String(r.limit));
    res.setHeader('RateLimit-Remaining', String(r.remaining));
    if (r.allowed) return next();
    const retryAfter = Math.max(1, Math.ceil(r.retryAfterS));
    sendError(
      res,
      429,
      'rate_limited',
      `too many requests: limit ${r.limit}/min per client; retry after ${retryAfter} s`,
      {
        'Retry-After': String(retryAfter),
      },
    );
  });
  app.use('/v1', express.json({ limit: opts.config.maxBodyBytes }));

  app.post('/v1/models', async (req, res) => {
    const body = parse(deployRequestSchema, req.body, 'deployment request');
    const out = await d.deploy(body);
    res.status(out.created ? 201 : 200).json({ ...out.body, created: out.created });
  });
  app.get('/v1/models', (_req, res) => {
    res.json({ models: d.list() });
  });
  app.get('/v1/models/:name', (req, res) => {
    res.json(d.get(parse(modelNameSchema, req.params.name, 'model name')));
  });
  app.post('/v1/models/:name/predict', async (req, res) => {
    const name = parse(modelNameSchema, req.params.name, 'model name');
    res.json(await d.predict(name, parse(predictRequestSchema, req.body ?? {}, 'prediction request')));
  });
  app.delete('/v1/models/:name', async (req, res) => {
    res.json(await d.undeploy(parse(modelNameSchema, req.params.name, 'model name')));
  });
  app.delete('/v1/models/:name/versions/:version', async (req, res) => {
    const name = parse(modelNameSchema, req.params.name, 'model name');
    res.json(await d.undeployVersion(name, parse(versionSchema, req.params.version, 'version')));
  });
  app.use((req: Request, res: Response) =>
    sendError(res, 404, 'not_found', `no route ${req.method} ${req.path}`),
  );

  app.use(
    (err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (err instanceof ServingError) {
        return sendError(
          res,
          err.status,
          err.code,
          err.message,
          err.status === 429 ? { 'Retry-After': '1' } : {},
        );
      }
      if (err.type === 'entity.too.large')
        return sendError(
          res,
          413,
          'payload_too_large',
          `request body over the ${opts.config.maxBodyBytes}-byte limit`,
        );
      if (err.type === 'entity.parse.failed')
        return sendError(res, 400, 'bad_json', 'request body is not valid JSON');
      opts.log.error('unhandled error', { err: String(err), stack: err.stack });
      if (!res.headersSent) sendError(res, 500, 'internal', 'internal error');
    },
  );
  return app;
}
