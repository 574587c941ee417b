import crypto from 'node:crypto';

/** Longest lifetime of a signed URL, in seconds (one day). */
export const MAX_SIGNED_URL_TTL_S = 86_400;

function mac(secret: string, key: string, version: number, exp: number): Buffer {
  // Newline-separated so no (key, version, exp) triple can be re-split into another one.
  return crypto.createHmac('sha256', secret).update(`GET\n${key}\n${version}\n${exp}`).digest();
}

/** URL-encodes each segment of a key, keeping the `/` separators. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * A time-limited URL that lets whoever holds it GET one version of one object without a token:
 * `<base>/objects/<key>?version=N&exp=<unix s>&sig=<hex HMAC-SHA256>`.
 */
export function signObjectUrl(
  baseUrl: string,
  secret: string,
  key: string,
  version: number,
  ttlS: number,
  nowS = Math.floor(Date.now() / 1000),
): { url: string; expiresAt: string } {
  const exp = nowS + ttlS;
  const sig = mac(secret, key, version, exp).toString('hex');
  return {
    url: `${baseUrl}/objects/${encodeKeyPath(key)}?version=${version}&exp=${exp}&sig=${sig}`,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

/** Checks a signed URL's parameters with a constant-time compare. */
export function verifyObjectSignature(
  secret: string,
  key: string,
  version: string | undefined,
  exp: string | undefined,
  sig: string | undefined,
  nowS = Math.floor(Date.now() / 1000),
): SignatureVerdict {
  if (!version || !/^[1-9][0-9]{0,9}$/.test(version))
    return { ok: false, reason: 'signed URL lacks a valid version' };
  if (!exp || !/^[0-9]{1,12}$/.test(exp)) return { ok: false, reason: 'signed URL lacks a valid exp' };
  if (!sig || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: 'signed URL lacks a valid sig' };
  const expS = Number(exp);
  if (expS < nowS) return { ok: false, reason: 'signed URL has expired' };
  const expected = mac(secret, key, Number(version), expS);
  const given = Buffer.from(sig, 'hex');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected))
    return { ok: false, reason: 'signature does not match' };
  return { ok: true };
}

/** Constant-time comparison of two secrets of any length (both are hashed to equal length first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}
