import crypto from 'node:crypto';

/**
 * True when an `Authorization` header carries `Bearer <expected>`. Both sides are hashed first so the
 * comparison is constant-time and does not leak the token's length.
 */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = m?.[1] ?? '';
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) && given.length > 0;
}
