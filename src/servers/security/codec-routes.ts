import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { AesGcmPayloadCodec, PayloadCodecError } from '../../codec/aes-gcm-codec';
import { CodecRequestError, payloadsFromJson, payloadsToJson } from '../../codec/remote-codec-json';
import type { RequestAuthenticator } from '../kit';
import type { AuditLog } from './audit-log';
import { CODEC_AUDIENCE, CODEC_DECODE_SCOPE, CODEC_KEYS_SCOPE, CODEC_OPERATOR_CLIENT_ID } from './clients';
import type { MinuteRateLimiter } from './oauth-routes';
import type { PayloadKeyRing } from './payload-keys';
import type { TokenIssuer } from './token-issuer';

export interface CodecRoutesDeps {
  payloadKeys: PayloadKeyRing;
  audit: AuditLog;
  /** Verifies bearer JWTs for audience `mcp:codec` (created lazily: our JWKS URL is known after listen). */
  authenticator: () => RequestAuthenticator;
  /** Browser origins (Temporal Web UI) allowed to call `/codec/encode|decode` cross-origin. */
  corsOrigins: readonly string[];
  /** Largest request body. */
  maxBodyBytes: number;
  /** Issues the operator's token for a browser session (`POST /codec/session` with client credentials). */
  tokens: TokenIssuer;
  /** Shared with `/oauth/token`: session logins guess secrets just as well. */
  limiter: MinuteRateLimiter;
}

/** Cookie holding an operator's `codec:decode` token, for Web UIs that cannot send a bearer header. */
export const CODEC_SESSION_COOKIE = 'mcp_codec_session';

function sessionToken(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === CODEC_SESSION_COOKIE)
      return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

const LOGIN_PAGE = `<!doctype html><meta charset="utf-8"><title>Codec session</title>
<h1>Temporal payload codec: operator session</h1>
<p>Sign in with a client holding scope <code>codec:decode</code> (default <code>${CODEC_OPERATOR_CLIENT_ID}</code>, secret in
<code>clients.secret.json</code>). Temporal Web UI then decodes payloads with this session when its codec setting
"include cross-origin credentials" is on. The session lasts as long as the token.</p>
<form method="post" action="/codec/session">
<label>client_id <input name="client_id" value="${CODEC_OPERATOR_CLIENT_ID}"></label><br>
<label>client_secret <input name="client_secret" type="password" autocomplete="off"></label><br>
<button type="submit">Start session</button></form>
<form method="post" action="/codec/logout"><button type="submit">End session</button></form>`;

/** Headers the Web UI sends to a codec endpoint (`X-Namespace` always; `Authorization` with passAccessToken). */
const CORS_ALLOW_HEADERS = 'Content-Type, X-Namespace, Authorization';

/**
 * The payload codec's HTTP face on the security server:
 * - `GET /codec/keys` (scope `codec:keys`): the unwrapped payload keys, for workers and clients that
 *   build the codec (src/codec). An HTTP route, not an MCP tool: workers need the keys before their
 *   first Temporal call, and an MCP tool result could end up in a workflow history.
 * - `POST /codec/encode`, `POST /codec/decode` (scope `codec:decode`): Temporal's remote codec protocol,
 *   for Temporal Web UI (`--ui-codec-endpoint <base>/codec`) and `temporal --codec-endpoint`; CORS for
 *   the configured UI origins, `OPTIONS` preflight. The keys never leave the server on this path.
 * Every answer, allowed or denied, is audited (action `codec.keys`, `codec.decode`, `codec.encode`).
 */
export function codecRoutes(deps: CodecRoutesDeps): (app: Express) => void {
  let codec: AesGcmPayloadCodec | undefined;
  let codecKids = '';
  // Rebuilt after a rotation (rotate_payload_key), detected by the ring's key ids.
  const currentCodec = () => {
    const kids = deps.payloadKeys.kids().join(',');
    if (!codec || kids !== codecKids) {
      const keys = deps.payloadKeys.all();
      const set = {
        activeKeyId: deps.payloadKeys.activeKid(),
        keys: keys.map((k) => ({ id: k.kid, key: k.key })),
      };
      if (codec) codec.setKeys(set);
      else codec = new AesGcmPayloadCodec({ keys: set });
      for (const k of keys) k.key.fill(0);
      codecKids = kids;
    }
    return codec;
  };

  const cors = (req: Request, res: Response) => {
    const origin = req.headers.origin;
    if (origin && deps.corsOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      // The Web UI's "include cross-origin credentials" option sends cookies; allow it explicitly.
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');
  };

  /**
   * Authenticates (bearer header, else — for encode/decode — the session cookie) and checks the scope;
   * answers 401/403 itself and returns undefined when refused.
   */
  const authorize = async (
    req: Request,
    res: Response,
    action: string,
    scope: string,
    allowCookie = false,
  ): Promise<string | undefined> => {
    const cookie = allowCookie && !req.headers.authorization ? sessionToken(req) : undefined;
    // The authenticator reads the header only; a cookie is checked exactly like a bearer token.
    const subject = cookie
      ? ({ headers: { authorization: `Bearer ${cookie}` }, body: undefined } as unknown as Request)
      : req;
    const outcome = await deps.authenticator()(subject);
    const denied = (status: 401 | 403, error: string, description: string, clientId?: string) => {
      deps.audit.append({
        actor: (clientId ?? 'anonymous').slice(0, 200),
        action,
        resource: CODEC_AUDIENCE,
        outcome: 'deny',
        details: { status, error, reason: description },
      });
      res.setHeader(
        'WWW-Authenticate',
        `Bearer error="${error}", error_description="${description.replace(/["\\]/g, '')}", scope="${scope}"`,
      );
      res.status(status).json({ error, error_description: description });
      return undefined;
    };
    if (!outcome.ok) return denied(outcome.status === 403 ? 403 : 401, outcome.error, outcome.description);
    if (!outcome.info.scopes.includes(scope))
      return denied(
        403,
        'insufficient_scope',
        `this endpoint requires scope ${scope}`,
        outcome.info.clientId,
      );
    return outcome.info.clientId;
  };

  return (app) => {
    app.get('/codec/keys', (req: Request, res: Response, next: NextFunction) => {
      res.setHeader('Cache-Control', 'no-store');
      authorize(req, res, 'codec.keys', CODEC_KEYS_SCOPE)
        .then((clientId) => {
          if (!clientId) return;
          const keys = deps.payloadKeys.all();
          deps.audit.append({
            actor: clientId.slice(0, 200),
            action: 'codec.keys',
            resource: CODEC_AUDIENCE,
            outcome: 'allow',
            details: { kids: keys.map((k) => k.kid) },
          });
          res.json({
            name: deps.payloadKeys.name,
            activeKeyId: deps.payloadKeys.activeKid(),
            keys: keys.map((k) => ({ id: k.kid, createdAt: k.createdAt, key: k.key.toString('base64') })),
          });
          for (const k of keys) k.key.fill(0);
        })
        .catch(next);
    });

    app.get('/codec/login', (_req: Request, res: Response) => {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Security-Policy', "default-src 'none'; form-action 'self'");
      res.type('html').send(LOGIN_PAGE);
    });

    // A browser session for the Web UI: client credentials (form or JSON) or a bearer token in, an
    // HttpOnly SameSite=Strict cookie scoped to /codec out. Same-site only: the UI must be opened on the
    // same host name as this server (127.0.0.1 with 127.0.0.1), which is also what keeps other sites out.
    const small = { limit: '16kb' };
    app.post(
      '/codec/session',
      express.urlencoded({ extended: false, ...small }),
      express.json(small),
      (req: Request, res: Response, next: NextFunction) => {
        res.setHeader('Cache-Control', 'no-store');
        if (!deps.limiter.admit(req, res, 'session requests')) return;
        const b = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
        const str = (v: unknown) => (typeof v === 'string' ? v : '');
        (async () => {
          let token: string;
          let expiresIn: number;
          if (req.headers.authorization) {
            const clientId = await authorize(req, res, 'codec.session', CODEC_DECODE_SCOPE);
            if (!clientId) return;
            token = req.headers.authorization.replace(/^Bearer +/i, '');
            const exp = JSON.parse(
              Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}',
            ) as { exp?: number };
            expiresIn = Math.max(1, (exp.exp ?? 0) - Math.floor(Date.now() / 1000));
          } else {
            const outcome = await deps.tokens.issue(
              {
                clientId: str(b.client_id),
                clientSecret: str(b.client_secret),
                audience: CODEC_AUDIENCE,
                scope: CODEC_DECODE_SCOPE,
              },
              'http',
            );
            if (!outcome.ok) {
              res
                .status(outcome.error === 'invalid_client' ? 401 : 400)
                .json({ error: outcome.error, error_description: outcome.description });
              return;
            }
            token = outcome.token.accessToken;
            expiresIn = outcome.token.expiresIn;
          }
          const secure = req.secure ? '; Secure' : '';
          res.setHeader(
            'Set-Cookie',
            `${CODEC_SESSION_COOKIE}=${token}; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=${expiresIn}${secure}`,
          );
          res.status(200).json({ session: 'started', expiresIn });
        })().catch(next);
      },
    );
    app.post('/codec/logout', (_req: Request, res: Response) => {
      res.setHeader(
        'Set-Cookie',
        `${CODEC_SESSION_COOKIE}=; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=0`,
      );
      res.status(200).json({ session: 'ended' });
    });

    const body = express.json({ limit: deps.maxBodyBytes });
    for (const kind of ['encode', 'decode'] as const) {
      const path = `/codec/${kind}`;
      app.options(path, (req: Request, res: Response) => {
        cors(req, res);
        res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
        res.setHeader('Access-Control-Max-Age', '600');
        res.status(204).end();
      });
      app.post(
        path,
        (req: Request, res: Response, next: NextFunction) => {
          cors(req, res);
          res.setHeader('Cache-Control', 'no-store');
          next();
        },
        body,
        (req: Request, res: Response, next: NextFunction) => {
          const action = `codec.${kind}`;
          authorize(req, res, action, CODEC_DECODE_SCOPE, true)
            .then(async (clientId) => {
              if (!clientId) return;
              const namespace =
                typeof req.headers['x-namespace'] === 'string'
                  ? req.headers['x-namespace'].slice(0, 200)
                  : null;
              let status = 200;
              let error: string | null = null;
              try {
                const payloads = payloadsFromJson(req.body);
                const c = currentCodec();
                const out = kind === 'encode' ? await c.encode(payloads) : await c.decode(payloads);
                res.json(payloadsToJson(out));
                deps.audit.append({
                  actor: clientId.slice(0, 200),
                  action,
                  resource: CODEC_AUDIENCE,
                  outcome: 'allow',
                  details: { namespace, payloads: payloads.length },
                });
                return;
              } catch (err) {
                if (err instanceof CodecRequestError) error = 'invalid_request';
                else if (err instanceof PayloadCodecError) error = err.code;
                else throw err;
                status = 400;
                res.status(status).json({ error, message: (err as Error).message });
              }
              deps.audit.append({
                actor: clientId.slice(0, 200),
                action,
                resource: CODEC_AUDIENCE,
                outcome: 'failure',
                details: { namespace, status, error },
              });
            })
            .catch(next);
        },
      );
    }
  };
}
