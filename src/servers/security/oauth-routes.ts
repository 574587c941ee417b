import express, { type Express, type Request, type Response } from 'express';
import { SIGNING_ALG, type SigningKeyRing } from './signing-keys';
import type { TokenIssuer, TokenErrorCode } from './token-issuer';

/** Fixed one-minute windows per remote address; enough to blunt secret guessing on `/oauth/token`. */
export class MinuteRateLimiter {
  private windows = new Map<string, { start: number; count: number }>();
  constructor(readonly perMinute: number) {}

  /** 0 when allowed, else seconds until the window resets. */
  take(key: string, now = Date.now()): number {
    let w = this.windows.get(key);
    if (!w || now - w.start >= 60_000) {
      if (this.windows.size > 10_000) this.windows.clear();
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count >= this.perMinute) return Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
    w.count++;
    return 0;
  }

  /**
   * Takes one request of the caller's address; when over the limit, answers 429 with `Retry-After`
   * and an OAuth-style `slow_down` error naming `what`, and returns false.
   */
  admit(req: Request, res: Response, what: string): boolean {
    const retryAfter = this.take(req.socket.remoteAddress ?? 'unknown');
    if (retryAfter === 0) return true;
    res.setHeader('Retry-After', String(retryAfter));
    res.status(429).json({ error: 'slow_down', error_description: `too many ${what}; retry after ${retryAfter} s` });
    return false;
  }
}

const STATUS: Record<TokenErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_grant_type: 400,
};

function oauthError(
  res: Response,
  error: TokenErrorCode,
  description: string,
  extraHeaders: Record<string, string> = {},
): void {
  for (const [k, v] of Object.entries(extraHeaders)) res.setHeader(k, v);
  res.status(STATUS[error]).json({ error, error_description: description });
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** RFC 6749 §2.3.1 client_secret_basic: base64 of form-encoded id ":" form-encoded secret. */
function parseBasic(
  header: string | undefined,
): { clientId: string; clientSecret: string } | 'malformed' | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  try {
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: dec(decoded.slice(0, colon)), clientSecret: dec(decoded.slice(colon + 1)) };
  } catch {
    return 'malformed';
  }
}

export interface OAuthRoutesDeps {
  issuer: () => string;
  tokens: TokenIssuer;
  keys: SigningKeyRing;
  limiter: MinuteRateLimiter;
  audiences: () => string[];
  scopes: () => string[];
}

/**
 * The authorization server's HTTP face: `POST /oauth/token` (client-credentials grant, form or JSON
 * body, client_secret_basic or client_secret_post), `GET /.well-known/jwks.json` and
 * `GET /.well-known/oauth-authorization-server` (RFC 8414).
 */
export function oauthRoutes(deps: OAuthRoutesDeps): (app: Express) => void {
  return (app) => {
    const small = { limit: '16kb' };
    app.post(
      '/oauth/token',
      express.urlencoded({ extended: false, ...small }),
      express.json(small),
      async (req: Request, res: Response) => {
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Pragma', 'no-cache');
        if (!deps.limiter.admit(req, res, 'token requests')) return;
        const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
        const grant = str(body.grant_type);
        if (grant !== 'client_credentials') {
          oauthError(
            res,
            grant ? 'unsupported_grant_type' : 'invalid_request',
            grant
              ? `grant_type ${grant} is not supported; use client_credentials`
              : 'grant_type is required (client_credentials)',
          );
          return;
        }
        const basic = parseBasic(req.headers.authorization);
        if (basic === 'malformed') {
          oauthError(res, 'invalid_client', 'malformed Basic credentials', {
            'WWW-Authenticate': 'Basic realm="mcp-security"',
          });
          return;
        }
        const bodyId = str(body.client_id);
        const bodySecret = str(body.client_secret);
        if (basic && bodySecret !== undefined) {
          oauthError(
            res,
            'invalid_request',
            'use one client authentication method: Basic header or client_secret in the body, not both',
          );
          return;
        }
        if (basic && bodyId !== undefined && bodyId !== basic.clientId) {
          oauthError(res, 'invalid_request', 'client_id in the body differs from the Basic credentials');
          return;
        }
        const audience = str(body.audience) ?? str(body.resource);
        const outcome = await deps.tokens.issue(
          {
            clientId: basic?.clientId ?? bodyId ?? '',
            clientSecret: basic?.clientSecret ?? bodySecret ?? '',
            audience,
            scope: str(body.scope),
          },
          'http',
        );
        if (!outcome.ok) {
          oauthError(
            res,
            outcome.error,
            outcome.description,
            outcome.error === 'invalid_client' && basic
              ? { 'WWW-Authenticate': 'Basic realm="mcp-security"' }
              : {},
          );
          return;
        }
        const t = outcome.token;
        res.status(200).json({
          access_token: t.accessToken,
          token_type: 'Bearer',
          expires_in: t.expiresIn,
          scope: t.scopes.join(' '),
          audience: t.audience,
        });
      },
    );

    app.get('/.well-known/jwks.json', (_req, res) => {
      // Short cache: verifiers refetch on an unknown kid anyway, and rotation must propagate.
      res.setHeader('Cache-Control', 'max-age=60');
      res.json(deps.keys.jwks());
    });

    app.get('/.well-known/oauth-authorization-server', (_req, res) => {
      const issuer = deps.issuer();
      res.setHeader('Cache-Control', 'max-age=300');
      res.json({
        issuer,
        token_endpoint: `${issuer}/oauth/token`,
        jwks_uri: `${issuer}/.well-known/jwks.json`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        response_types_supported: [],
        scopes_supported: deps.scopes(),
        audiences_supported: deps.audiences(),
        access_token_signing_alg_values_supported: [SIGNING_ALG],
      });
    });
  };
}
