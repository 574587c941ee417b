import dns from 'node:dns';
import net from 'node:net';

/**
 * SSRF guard for outbound calls (RELIABILITY item 17). Two independent layers:
 * 1. the destination must match the allowlist (`MCP_INTEGRATION_ALLOW`);
 * 2. loopback, unspecified, link-local (cloud metadata), private, multicast and reserved addresses are
 *    refused, whether written literally in any spelling or reached through a name that resolves to
 *    them, UNLESS the exact origin (scheme://host:port) is an allowlist entry. That exception is how the
 *    stack's own loopback services are reachable while a wildcard pattern never opens the internal net.
 *
 * The guard resolves names itself and returns the vetted address so the caller connects to exactly that
 * address (pinning); a second lookup at connect time could return a different answer (DNS rebinding).
 */

/** Resolves a host name to its addresses (all of them: every one must pass). Injectable for tests. */
export type Resolver = (hostname: string) => Promise<string[]>;

/** The system resolver (getaddrinfo, so /etc/hosts counts, as it would for any HTTP client). */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => a.address);
};

/** Why a destination was refused; stable codes for tests and logs. */
export const SsrfReason = {
  invalidUrl: 'invalid_url',
  scheme: 'scheme_not_allowed',
  credentials: 'credentials_in_url',
  notAllowlisted: 'not_allowlisted',
  blockedAddress: 'blocked_address',
  blockedName: 'blocked_name',
  resolvesToBlocked: 'resolves_to_blocked_address',
  unresolvable: 'unresolvable',
} as const;
export type SsrfReason = (typeof SsrfReason)[keyof typeof SsrfReason];

/** A refused destination: raised before any connection is attempted. */
export class SsrfError extends Error {
  constructor(
    message: string,
    readonly reason: SsrfReason,
  ) {
    super(message);
    this.name = 'SsrfError';
  }
}

// ---------------------------------------------------------------------------------------------------
// IP parsing: every spelling a URL parser or inet_aton accepts, so a literal cannot slip past by form.

/** Parses one inet_aton component: decimal, octal (leading 0) or hex (0x). */
function parseV4Part(part: string): number | undefined {
  if (part === '') return undefined;
  let n: number;
  if (/^0x[0-9a-f]*$/i.test(part)) n = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  else if (/^0[0-7]+$/.test(part)) n = parseInt(part.slice(1), 8);
  else if (/^(0|[1-9][0-9]*)$/.test(part)) n = parseInt(part, 10);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * IPv4 in any inet_aton spelling (`127.1`, `0x7f000001`, `2130706433`, `017700000001`, `0177.0.0.1`)
 * → 4 bytes; undefined when the string is not an IPv4 literal.
 */
export function parseIPv4(host: string): Uint8Array | undefined {
  const h = host.endsWith('.') ? host.slice(0, -1) : host;
  const parts = h.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums = parts.map(parseV4Part);
  if (nums.some((n) => n === undefined)) return undefined;
  const ns = nums as number[];
  const last = ns[ns.length - 1] as number;
  const head = ns.slice(0, -1);
  if (head.some((n) => n > 255)) return undefined;
  if (last >= 256 ** (5 - ns.length)) return undefined;
  let value = last;
  head.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return new Uint8Array([(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

/** IPv6 literal (brackets and zone id tolerated) → 16 bytes; undefined when not an IPv6 literal. */
export function parseIPv6(host: string): Uint8Array | undefined {
  let h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  if (!net.isIPv6(h)) return undefined;
  let tail: number[] = [];
  const lastColon = h.lastIndexOf(':');
  const maybeV4 = h.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const v4 = parseIPv4(maybeV4);
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    h = h.slice(0, lastColon + 1) + '0:0';
  }
  const [left = '', right] = h.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const fill = right === undefined ? 0 : 8 - l.length - r.length;
  const words = [...l, ...new Array<number>(fill).fill(0), ...r];
  if (words.length !== 8) return undefined;
  if (tail.length) words.splice(6, 2, ...tail);
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = (w >> 8) & 255;
    out[i * 2 + 1] = w & 255;
  });
  return out;
}

interface Cidr4 {
  base: [number, number, number, number];
  bits: number;
  label: string;
}

/** IPv4 ranges that are never a legitimate public API destination. */
const BLOCKED_V4: Cidr4[] = [
  { base: [0, 0, 0, 0], bits: 8, label: 'unspecified/this-network (0.0.0.0/8)' },
  { base: [10, 0, 0, 0], bits: 8, label: 'private (10/8)' },
  { base: [100, 64, 0, 0], bits: 10, label: 'carrier-grade NAT (100.64/10)' },
  { base: [127, 0, 0, 0], bits: 8, label: 'loopback (127/8)' },
  { base: [169, 254, 0, 0], bits: 16, label: 'link-local / cloud metadata (169.254/16)' },
  { base: [172, 16, 0, 0], bits: 12, label: 'private (172.16/12)' },
  { base: [192, 0, 0, 0], bits: 24, label: 'IETF protocol assignments (192.0.0/24)' },
  { base: [192, 0, 2, 0], bits: 24, label: 'documentation (192.0.2/24)' },
  { base: [192, 168, 0, 0], bits: 16, label: 'private (192.168/16)' },
  { base: [198, 18, 0, 0], bits: 15, label: 'benchmarking (198.18/15)' },
  { base: [198, 51, 100, 0], bits: 24, label: 'documentation (198.51.100/24)' },
  { base: [203, 0, 113, 0], bits: 24, label: 'documentation (203.0.113/24)' },
  { base: [224, 0, 0, 0], bits: 4, label: 'multicast (224/4)' },
  { base: [240, 0, 0, 0], bits: 4, label: 'reserved/broadcast (240/4)' },
];

function inPrefix(bytes: Uint8Array, base: ArrayLike<number>, bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((base[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function classifyV4(b: Uint8Array): string | undefined {
  return BLOCKED_V4.find((c) => inPrefix(b, c.base, c.bits))?.label;
}

function v6Prefix(words: number[]): number[] {
  const out: number[] = [];
  for (const w of words) out.push((w >> 8) & 255, w & 255);
  return out;
}

/** IPv6 ranges; IPv4 embedded in mapped/compatible/NAT64/6to4 forms is checked as IPv4. */
function classifyV6(b: Uint8Array): string | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zero(0, 16)) return 'unspecified (::)';
  if (zero(0, 15) && b[15] === 1) return 'loopback (::1)';
  const embedded = (offset: number, what: string) => {
    const v4 = classifyV4(b.slice(offset, offset + 4));
    return v4 ? `${what} of ${v4}` : undefined;
  };
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return embedded(12, 'IPv4-mapped');
  if (zero(0, 12)) return embedded(12, 'IPv4-compatible') ?? 'IPv4-compatible (::/96)';
  if (inPrefix(b, v6Prefix([0x64, 0xff9b]), 96)) return embedded(12, 'NAT64');
  if (inPrefix(b, v6Prefix([0x2002]), 16)) return embedded(2, '6to4');
  if (inPrefix(b, [0xfc], 7)) return 'unique local (fc00::/7)';
  if (inPrefix(b, [0xfe, 0x80], 10)) return 'link-local (fe80::/10)';
  if (inPrefix(b, [0xfe, 0xc0], 10)) return 'site-local (fec0::/10)';
  if (inPrefix(b, [0xff], 8)) return 'multicast (ff00::/8)';
  if (inPrefix(b, v6Prefix([0x2001, 0x0db8]), 32)) return 'documentation (2001:db8::/32)';
  return undefined;
}

/** A parsed IP literal: its family and canonical text. */
export interface ParsedIp {
  family: 4 | 6;
  bytes: Uint8Array;
  /** Canonical text (`127.0.0.1`, `::1`), usable to connect. */
  address: string;
}

/** Parses an IP literal in any spelling; undefined for host names. */
export function parseIp(host: string): ParsedIp | undefined {
  const v6 = parseIPv6(host);
  if (v6) {
    const words: string[] = [];
    for (let i = 0; i < 16; i += 2) words.push(((v6[i]! << 8) | v6[i + 1]!).toString(16));
    return { family: 6, bytes: v6, address: words.join(':') };
  }
  const v4 = parseIPv4(host);
  if (v4) return { family: 4, bytes: v4, address: Array.from(v4).join('.') };
  return undefined;
}

/** Why an IP literal is internal (a label), or undefined when it is a public address. */
export function blockedIpReason(host: string): string | undefined {
  const ip = parseIp(host);
  if (!ip) return undefined;
  return ip.family === 4 ? classifyV4(ip.bytes) : classifyV6(ip.bytes);
}

/** Names that mean "this machine" or the cloud metadata service however they resolve. */
export function blockedNameReason(hostname: string): string | undefined {
  const h = hostname.toLowerCase().replace(/\.+$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return 'loopback name (localhost)';
  if (h === 'localhost.localdomain' || h === 'ip6-localhost' || h === 'ip6-loopback') return 'loopback name';
  if (h === 'metadata.google.internal' || h === 'metadata') return 'cloud metadata name';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Allowlist

/** One allowlist entry, parsed. */
export interface AllowEntry {
  /** The entry as configured. */
  raw: string;
  /** `http:`/`https:` for an origin entry; undefined for a host:port pattern (either scheme). */
  scheme?: 'http:' | 'https:';
  /** Lower-case host, `*` (any) or `*.suffix`; IP literals in canonical form. */
  host: string;
  /** Port, or undefined = the scheme's default port (80/443); `*` = any port. */
  port?: number | '*';
  /** True for an exact origin (scheme, literal host, port): the only kind that may admit internal addresses. */
  exactOrigin: boolean;
}

function canonicalHost(host: string): string {
  const h = host.toLowerCase();
  const ip = parseIp(h);
  if (!ip) return h.replace(/\.+$/, '');
  return ip.family === 6 ? `[${ip.address}]` : ip.address;
}

/**
 * Parses `MCP_INTEGRATION_ALLOW` entries: origins (`http://127.0.0.1:8007`, `https://api.example.com`)
 * or host:port patterns (`api.example.com:443`, `*.example.com`, `*.example.com:*`).
 */
export function parseAllowEntry(raw: string): AllowEntry {
  const entry = raw.trim();
  const m = /^(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[^:/\s]+)(?::(\d{1,5}|\*))?\/?$/.exec(entry);
  if (!m)
    throw new Error(
      `invalid allowlist entry "${raw}": expected an origin like http://127.0.0.1:8007 or a pattern like *.example.com:443`,
    );
  const scheme = m[1] ? (`${m[1]}:` as 'http:' | 'https:') : undefined;
  const hostText = m[2] as string;
  const port = m[3] === undefined ? undefined : m[3] === '*' ? '*' : Number(m[3]);
  if (typeof port === 'number' && (port < 1 || port > 65535))
    throw new Error(`invalid port in allowlist entry "${raw}"`);
  if (hostText.includes('*') && hostText !== '*' && !/^\*\.[^*]+$/.test(hostText)) {
    throw new Error(`invalid wildcard in allowlist entry "${raw}": only "*" or "*.suffix" are supported`);
  }
  const host = hostText.includes('*') ? hostText.toLowerCase() : canonicalHost(hostText);
  const exactOrigin = scheme !== undefined && !host.includes('*') && port !== '*';
  return { raw: entry, scheme, host, port, exactOrigin };
}

/** Parses a comma-separated allowlist; empty → nothing allowed. */
export function parseAllowlist(value: string | string[] | undefined): AllowEntry[] {
  const items = Array.isArray(value) ? value : (value ?? '').split(',');
  return items
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseAllowEntry);
}

function defaultPort(scheme: string): number {
  return scheme === 'https:' ? 443 : 80;
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** The first allowlist entry admitting this URL, if any (exact origins are preferred). */
export function matchAllowlist(url: URL, allow: AllowEntry[]): AllowEntry | undefined {
  const host = canonicalHost(url.hostname);
  const port = url.port ? Number(url.port) : defaultPort(url.protocol);
  const matches = allow.filter((e) => {
    if (e.scheme && e.scheme !== url.protocol) return false;
    if (!hostMatches(e.host, host)) return false;
    if (e.port === '*') return true;
    return (e.port ?? defaultPort(url.protocol)) === port;
  });
  return matches.find((e) => e.exactOrigin) ?? matches[0];
}

// ---------------------------------------------------------------------------------------------------

/** A destination that passed every check, with the address to connect to. */
export interface VettedDestination {
  url: URL;
  /** The address to connect to (pinned): the socket must go exactly here. */
  address: string;
  family: 4 | 6;
  /** The allowlist entry that admitted it. */
  entry: AllowEntry;
}

export interface GuardOptions {
  allow: AllowEntry[];
  resolve?: Resolver;
}

/**
 * Vets one URL (each redirect hop is vetted again by the caller). Throws {@link SsrfError} before any
 * connection is made when the destination is refused.
 */
export async function vetDestination(rawUrl: string | URL, opts: GuardOptions): Promise<VettedDestination> {
  let url: URL;
  try {
    url = rawUrl instanceof URL ? rawUrl : new URL(rawUrl);
  } catch {
    throw new SsrfError(`url "${String(rawUrl)}" is not a valid absolute URL`, SsrfReason.invalidUrl);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SsrfError(
      `url scheme "${url.protocol}" is not allowed: only http: and https: are`,
      SsrfReason.scheme,
    );
  }
  if (url.username || url.password) {
    throw new SsrfError(
      'url must not carry credentials (user:pass@); pass an Authorization header instead',
      SsrfReason.credentials,
    );
  }
  const entry = matchAllowlist(url, opts.allow);
  if (!entry) {
    throw new SsrfError(
      `destination ${url.origin} is not in the allowlist (MCP_INTEGRATION_ALLOW); ask the operator to add it`,
      SsrfReason.notAllowlisted,
    );
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const literal = parseIp(hostname);
  if (literal) {
    const why = blockedIpReason(hostname);
    if (why && !entry.exactOrigin) {
      throw new SsrfError(
        `destination ${url.origin} is a blocked address: ${why}`,
        SsrfReason.blockedAddress,
      );
    }
    return { url, address: literal.address, family: literal.family, entry };
  }
  const nameWhy = blockedNameReason(hostname);
  if (nameWhy && !entry.exactOrigin) {
    throw new SsrfError(`destination ${url.origin} is blocked: ${nameWhy}`, SsrfReason.blockedName);
  }
  let addresses: string[];
  try {
    addresses = await (opts.resolve ?? systemResolver)(hostname);
  } catch (err) {
    throw new SsrfError(
      `host "${hostname}" did not resolve: ${err instanceof Error ? err.message : String(err)}`,
      SsrfReason.unresolvable,
    );
  }
  if (addresses.length === 0)
    throw new SsrfError(`host "${hostname}" resolved to no address`, SsrfReason.unresolvable);
  const parsed: ParsedIp[] = [];
  for (const a of addresses) {
    const ip = parseIp(a);
    if (!ip)
      throw new SsrfError(`host "${hostname}" resolved to a non-IP answer "${a}"`, SsrfReason.unresolvable);
    const why = blockedIpReason(a);
    // Any blocked answer refuses the name: an attacker controls which answer a later lookup picks.
    if (why && !entry.exactOrigin) {
      throw new SsrfError(
        `host "${hostname}" resolves to ${a}, a blocked address: ${why}`,
        SsrfReason.resolvesToBlocked,
      );
    }
    parsed.push(ip);
  }
  const first = parsed[0] as ParsedIp;
  return { url, address: first.address, family: first.family, entry };
}
