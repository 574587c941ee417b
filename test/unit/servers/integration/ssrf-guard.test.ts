import {
  blockedIpReason,
  matchAllowlist,
  parseAllowEntry,
  parseAllowlist,
  parseIp,
  SsrfError,
  SsrfReason,
  vetDestination,
  type Resolver,
} from '../../../../src/servers/integration/ssrf-guard';

/** A resolver that answers from a table and counts lookups; unknown names fail like NXDOMAIN. */
function fakeResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = (async (host: string) => {
    calls.push(host);
    const a = table[host];
    if (!a) throw new Error(`ENOTFOUND ${host}`);
    return a;
  }) as Resolver & { calls: string[] };
  fn.calls = calls;
  return fn;
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SsrfError) return err.reason;
    throw err;
  }
  return 'allowed';
}

describe('IP literal parsing', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['169.254.169.254', '169.254.169.254'],
    ['[::1]', '0:0:0:0:0:0:0:1'],
    ['[::ffff:127.0.0.1]', '0:0:0:0:0:ffff:7f00:1'],
    ['::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1'],
    ['fe80::1%eth0', 'fe80:0:0:0:0:0:0:1'],
  ])('when the host is %s, then it parses as %s', (host, canonical) => {
    expect(parseIp(host)?.address).toBe(canonical);
  });

  it.each(['example.com', '127.0.0.1.nip.io', '256.1.1.1', '1.2.3.4.5', 'localhost', '08.1.1.1'])(
    'when the host is %s, then it is not an IP literal',
    (host) => {
      expect(parseIp(host)).toBeUndefined();
    },
  );
});

describe('internal address classification', () => {
  it.each([
    '127.0.0.1',
    '127.1',
    '0x7f000001',
    '2130706433',
    '017700000001',
    '127.255.255.254',
    '0.0.0.0',
    '0',
    '0x',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '[::1]',
    '::',
    '::ffff:127.0.0.1',
    '[::ffff:7f00:1]',
    '::ffff:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::127.0.0.1',
    '2002:7f00:1::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'febf::1',
    'ff02::1',
  ])('when the address is %s, then it is blocked', (host) => {
    expect(blockedIpReason(host)).toBeDefined();
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '172.15.255.255',
    '192.169.0.1',
    '2606:4700::1111',
    '::ffff:8.8.8.8',
  ])('when the address is %s, then it is public', (host) => {
    expect(blockedIpReason(host)).toBeUndefined();
  });
});

describe('allowlist entries', () => {
  it('when an origin entry is parsed, then it is an exact origin with its port', () => {
    const e = parseAllowEntry('http://127.0.0.1:8007');
    expect(e).toMatchObject({ scheme: 'http:', host: '127.0.0.1', port: 8007, exactOrigin: true });
  });

  it('when a host:port pattern is parsed, then it is not an exact origin', () => {
    expect(parseAllowEntry('api.example.com:443').exactOrigin).toBe(false);
    expect(parseAllowEntry('*.example.com').exactOrigin).toBe(false);
    expect(parseAllowEntry('http://*.example.com:8080').exactOrigin).toBe(false);
  });

  it('when an entry is malformed, then parsing throws naming it', () => {
    expect(() => parseAllowEntry('ftp://x')).toThrow(/ftp:\/\/x/);
    expect(() => parseAllowEntry('a*b.com')).toThrow(/wildcard/);
    expect(() => parseAllowEntry('host:99999')).toThrow(/port/);
  });

  it('when matching, then scheme, host suffix and default ports are respected', () => {
    const allow = parseAllowlist('https://api.example.com,*.svc.test:8443,http://127.0.0.1:8007');
    expect(matchAllowlist(new URL('https://api.example.com/x'), allow)?.raw).toBe('https://api.example.com');
    expect(matchAllowlist(new URL('http://api.example.com/x'), allow)).toBeUndefined();
    expect(matchAllowlist(new URL('https://api.example.com:8443/x'), allow)).toBeUndefined();
    expect(matchAllowlist(new URL('http://a.svc.test:8443/'), allow)?.raw).toBe('*.svc.test:8443');
    expect(matchAllowlist(new URL('http://svc.test:8443/'), allow)).toBeUndefined();
    expect(matchAllowlist(new URL('http://evilsvc.test:8443/'), allow)).toBeUndefined();
    // Another spelling of the same address is the same destination.
    expect(matchAllowlist(new URL('http://0x7f000001:8007/'), allow)?.exactOrigin).toBe(true);
  });
});

describe('vetDestination', () => {
  const allow = parseAllowlist('*,*:*,http://127.0.0.1:8007,http://internal.test:9000');

  it.each([
    ['http://127.0.0.1:9/', SsrfReason.blockedAddress],
    ['http://127.1:9/', SsrfReason.blockedAddress],
    ['http://0x7f000001:9/', SsrfReason.blockedAddress],
    ['http://2130706433:9/', SsrfReason.blockedAddress],
    ['http://017700000001:9/', SsrfReason.blockedAddress],
    ['http://[::1]:9/', SsrfReason.blockedAddress],
    ['http://[::ffff:127.0.0.1]:9/', SsrfReason.blockedAddress],
    ['http://0.0.0.0:9/', SsrfReason.blockedAddress],
    ['http://169.254.169.254/latest/meta-data/', SsrfReason.blockedAddress],
    ['http://10.0.0.1/', SsrfReason.blockedAddress],
    ['http://172.16.5.4/', SsrfReason.blockedAddress],
    ['http://192.168.0.1/', SsrfReason.blockedAddress],
    ['http://[fc00::1]/', SsrfReason.blockedAddress],
    ['http://[fe80::1]/', SsrfReason.blockedAddress],
    ['http://localhost:9/', SsrfReason.blockedName],
    ['http://localhost.:9/', SsrfReason.blockedName],
    ['http://LOCALHOST:9/', SsrfReason.blockedName],
    ['http://api.localhost/', SsrfReason.blockedName],
    ['file:///etc/passwd', SsrfReason.scheme],
    ['gopher://127.0.0.1:70/_x', SsrfReason.scheme],
    ['ftp://example.com/', SsrfReason.scheme],
    ['data:text/plain,hi', SsrfReason.scheme],
    ['http://user:pw@example.com/', SsrfReason.credentials],
    ['not a url', SsrfReason.invalidUrl],
  ])('when the url is %s, then it is refused (%s) without resolving it', async (url, reason) => {
    const resolve = fakeResolver({});
    expect(await reasonOf(vetDestination(url, { allow, resolve }))).toBe(reason);
    expect(resolve.calls).toEqual([]);
  });

  it('when a name resolves to a private address, then it is refused', async () => {
    const resolve = fakeResolver({
      'evil.test': ['10.0.0.7'],
      'meta.test': ['169.254.169.254'],
      'v6.test': ['::1'],
    });
    for (const host of ['evil.test', 'meta.test', 'v6.test']) {
      expect(await reasonOf(vetDestination(`http://${host}/`, { allow, resolve }))).toBe(
        SsrfReason.resolvesToBlocked,
      );
    }
  });

  it('when a name resolves to a public and a private address, then it is refused (any bad answer counts)', async () => {
    const resolve = fakeResolver({ 'mixed.test': ['93.184.216.34', '127.0.0.1'] });
    expect(await reasonOf(vetDestination('http://mixed.test/', { allow, resolve }))).toBe(
      SsrfReason.resolvesToBlocked,
    );
  });

  it('when a name resolves to public addresses, then the first is pinned for the connection', async () => {
    const resolve = fakeResolver({ 'api.test': ['93.184.216.34', '93.184.216.35'] });
    const d = await vetDestination('https://api.test/v1', { allow, resolve });
    expect(d.address).toBe('93.184.216.34');
    expect(resolve.calls).toEqual(['api.test']);
  });

  it('when the exact loopback origin is allowlisted, then it is allowed', async () => {
    const d = await vetDestination('http://127.0.0.1:8007/mcp', { allow, resolve: fakeResolver({}) });
    expect(d.address).toBe('127.0.0.1');
    expect(d.entry.exactOrigin).toBe(true);
  });

  it('when an allowlisted exact origin is a name resolving to loopback, then it is allowed and pinned', async () => {
    const resolve = fakeResolver({ 'internal.test': ['127.0.0.1'] });
    const d = await vetDestination('http://internal.test:9000/', { allow, resolve });
    expect(d.address).toBe('127.0.0.1');
  });

  it('when only the scheme differs from an allowlisted loopback origin, then it is refused', async () => {
    expect(
      await reasonOf(vetDestination('https://127.0.0.1:8007/', { allow, resolve: fakeResolver({}) })),
    ).toBe(SsrfReason.blockedAddress);
  });

  it('when the destination matches no allowlist entry, then it is refused before any DNS lookup', async () => {
    const resolve = fakeResolver({ 'example.com': ['93.184.216.34'] });
    const narrow = parseAllowlist('https://api.example.org');
    expect(await reasonOf(vetDestination('https://example.com/', { allow: narrow, resolve }))).toBe(
      SsrfReason.notAllowlisted,
    );
    expect(await reasonOf(vetDestination('https://93.184.216.34/', { allow: narrow, resolve }))).toBe(
      SsrfReason.notAllowlisted,
    );
    expect(await reasonOf(vetDestination('https://example.com/', { allow: [], resolve }))).toBe(
      SsrfReason.notAllowlisted,
    );
    expect(resolve.calls).toEqual([]);
  });

  it('when a name does not resolve, then it is refused as unresolvable', async () => {
    expect(await reasonOf(vetDestination('http://nowhere.test/', { allow, resolve: fakeResolver({}) }))).toBe(
      SsrfReason.unresolvable,
    );
  });
});
