import crypto from 'node:crypto';
import { SignJWT } from 'jose';
import { scopeBelongsTo, type ClientRegistry } from './clients';
import type { AuditLog } from './audit-log';
import { SIGNING_ALG, type SigningKeyRing } from './signing-keys';

export interface TokenRequest {
  clientId: string;
  clientSecret: string;
  /** `mcp:<server>`; may be omitted when the client is allowed exactly one audience. */
  audience?: string;
  /** Space-separated scopes; omitted: every scope the client holds for that audience. */
  scope?: string;
}

export interface IssuedToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  expiresAt: number;
  audience: string;
  scopes: string[];
  kid: string;
  jti: string;
  clientId: string;
}

/** RFC 6749 §5.2 / RFC 8707 error codes. */
export type TokenErrorCode =
  'invalid_request' | 'invalid_client' | 'invalid_scope' | 'invalid_target' | 'unsupported_grant_type';

export type TokenOutcome =
  { ok: true; token: IssuedToken } | { ok: false; error: TokenErrorCode; description: string };

/**
 * Issues short-lived access tokens (RFC 9068 JWT profile, `typ: at+jwt`) for the client-credentials
 * grant: one audience per token, scopes narrowed to what the client holds for that audience.
 */
export class TokenIssuer {
  constructor(
    private readonly clients: ClientRegistry,
    private readonly keys: SigningKeyRing,
    private readonly opts: { issuer: () => string; ttlS: number },
    private readonly audit?: AuditLog,
  ) {}

  get ttlS(): number {
    return this.opts.ttlS;
  }

  /** Issues a token, or refuses; either way one audit entry records it (never the secret or the token). */
  async issue(req: TokenRequest, via: 'http' | 'mcp'): Promise<TokenOutcome> {
    const outcome = await this.decide(req);
    this.audit?.append({
      actor: (req.clientId || 'anonymous').slice(0, 200),
      action: 'token.issue',
      resource: (outcome.ok ? outcome.token.audience : (req.audience ?? '(none)')).slice(0, 200),
      outcome: outcome.ok ? 'success' : 'failure',
      details: outcome.ok
        ? {
            via,
            jti: outcome.token.jti,
            kid: outcome.token.kid,
            scopes: outcome.token.scopes,
            expiresAt: outcome.token.expiresAt,
          }
        : { via, error: outcome.error, description: outcome.description },
    });
    return outcome;
  }

  private async decide(req: TokenRequest): Promise<TokenOutcome> {
    if (!req.clientId || !req.clientSecret)
      return {
        ok: false,
        error: 'invalid_client',
        description: 'client authentication failed: client_id and client_secret are required',
      };
    const client = await this.clients.verify(req.clientId, req.clientSecret);
    // One message for unknown id and wrong secret: the response must not tell which one exists.
    if (!client)
      return {
        ok: false,
        error: 'invalid_client',
        description: 'client authentication failed: unknown client_id or wrong client_secret',
      };

    let audience = req.audience;
    if (!audience) {
      if (client.audiences.length !== 1) {
        return {
          ok: false,
          error: 'invalid_request',
          description: `audience is required for client ${client.clientId}; one of: ${client.audiences.join(', ')}`,
        };
      }
      audience = client.audiences[0]!;
    }
    if (!client.audiences.includes(audience)) {
      return {
        ok: false,
        error: 'invalid_target',
        description: `client ${client.clientId} may not request audience ${audience}; allowed: ${client.audiences.join(', ')}`,
      };
    }
    const held = client.scopes.filter((s) => scopeBelongsTo(s, audience));
    let scopes: string[];
    if (req.scope !== undefined && req.scope.trim() !== '') {
      scopes = [...new Set(req.scope.trim().split(/\s+/))];
      const refused = scopes.filter((s) => !held.includes(s));
      if (refused.length > 0) {
        return {
          ok: false,
          error: 'invalid_scope',
          description: `scope ${refused.join(' ')} not granted to ${client.clientId} for ${audience}; allowed: ${held.join(' ') || '(none)'}`,
        };
      }
    } else {
      scopes = held;
    }

    const { kid, key } = this.keys.active();
    const now = Math.floor(Date.now() / 1000);
    const jti = crypto.randomUUID();
    const accessToken = await new SignJWT({ client_id: client.clientId, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'at+jwt' })
      .setIssuer(this.opts.issuer())
      .setSubject(client.clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.opts.ttlS)
      .setJti(jti)
      .sign(key);
    return {
      ok: true,
      token: {
        accessToken,
        tokenType: 'Bearer',
        expiresIn: this.opts.ttlS,
        expiresAt: now + this.opts.ttlS,
        audience,
        scopes,
        kid,
        jti,
        clientId: client.clientId,
      },
    };
  }
}
