import { safeEqual, signObjectUrl, verifyObjectSignature } from '../../../../src/servers/storage/signed-url';

describe('signed object URLs', () => {
  const secret = 'unit-secret-0123456789';
  const now = 1_700_000_000;

  function params(url: string) {
    const u = new URL(url);
    return {
      path: u.pathname,
      version: u.searchParams.get('version') ?? undefined,
      exp: u.searchParams.get('exp') ?? undefined,
      sig: u.searchParams.get('sig') ?? undefined,
    };
  }

  it('when a URL is signed, then it verifies for that key and version until it expires', () => {
    const { url, expiresAt } = signObjectUrl('http://127.0.0.1:8003', secret, 'a/b c.txt', 3, 60, now);
    const p = params(url);
    expect(p.path).toBe('/objects/a/b%20c.txt');
    expect(expiresAt).toBe(new Date((now + 60) * 1000).toISOString());
    expect(verifyObjectSignature(secret, 'a/b c.txt', p.version, p.exp, p.sig, now + 59)).toEqual({
      ok: true,
    });
    expect(verifyObjectSignature(secret, 'a/b c.txt', p.version, p.exp, p.sig, now + 61)).toEqual({
      ok: false,
      reason: 'signed URL has expired',
    });
  });

  it('when key, version, exp, secret or signature differ, then verification fails', () => {
    const p = params(signObjectUrl('http://h', secret, 'k', 1, 60, now).url);
    expect(verifyObjectSignature(secret, 'k2', p.version, p.exp, p.sig, now).ok).toBe(false);
    expect(verifyObjectSignature(secret, 'k', '2', p.exp, p.sig, now).ok).toBe(false);
    expect(verifyObjectSignature(secret, 'k', p.version, String(Number(p.exp) + 1000), p.sig, now).ok).toBe(
      false,
    );
    expect(verifyObjectSignature('other-secret-0123456789', 'k', p.version, p.exp, p.sig, now).ok).toBe(
      false,
    );
    expect(verifyObjectSignature(secret, 'k', p.version, p.exp, 'ab', now).ok).toBe(false);
    expect(verifyObjectSignature(secret, 'k', undefined, p.exp, p.sig, now).ok).toBe(false);
  });

  it('when secrets are compared, then equal strings match and any difference (including length) does not', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'a')).toBe(false);
  });
});
