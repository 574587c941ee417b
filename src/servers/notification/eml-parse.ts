/**
 * A small MIME reader for messages the SMTP sink stored: enough to list a message's headers, text and
 * attachments (multipart, base64, quoted-printable). It exists so the sink can be inspected and tests
 * can compare attachment bytes without another package; it is not a general mail parser.
 */

export interface MimePart {
  /** Header names lower-cased; repeated headers keep the last value. */
  headers: Record<string, string>;
  contentType: string;
  /** Parameters of Content-Type (`boundary`, `charset`, `name`). */
  params: Record<string, string>;
  /** Decoded body bytes (transfer encoding undone); empty for multipart containers. */
  body: Buffer;
  /** Child parts of a multipart container. */
  parts: MimePart[];
  /** Attachment file name from Content-Disposition or Content-Type, if any. */
  filename?: string;
}

function splitHeadBody(raw: Buffer): { head: string; body: Buffer } {
  const idx = raw.indexOf('\r\n\r\n');
  if (idx >= 0) return { head: raw.subarray(0, idx).toString('latin1'), body: raw.subarray(idx + 4) };
  const lf = raw.indexOf('\n\n');
  if (lf >= 0) return { head: raw.subarray(0, lf).toString('latin1'), body: raw.subarray(lf + 2) };
  return { head: raw.toString('latin1'), body: Buffer.alloc(0) };
}

/** Parses a header block (folded lines joined) into lower-case names → values. */
export function parseHeaders(head: string): Record<string, string> {
  const out: Record<string, string> = {};
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return out;
}

function parseParams(value: string): { main: string; params: Record<string, string> } {
  const [main = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const k = p.slice(0, eq).trim().toLowerCase();
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[k] = v;
  }
  return { main: main.trim().toLowerCase(), params };
}

/** Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`) in a header value. */
export function decodeWords(value: string): string {
  return value.replace(
    /=\?([^?]+)\?([bBqQ])\?([^?]*)\?=\s*(?==\?)?/g,
    (_m, _cs: string, enc: string, text: string) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
      const bytes = text
        .replace(/_/g, ' ')
        .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    },
  );
}

function decodeQuotedPrintable(body: Buffer): Buffer {
  const text = body.toString('latin1').replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const hex = ch === '=' ? text.slice(i + 1, i + 3) : '';
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** Parses a raw RFC 5322 message (bytes of an `.eml`). Nesting is bounded to 10 levels. */
export function parseEml(raw: Buffer, depth = 0): MimePart {
  const { head, body } = splitHeadBody(raw);
  const headers = parseHeaders(head);
  const { main: contentType, params } = parseParams(headers['content-type'] ?? 'text/plain');
  const disposition = parseParams(headers['content-disposition'] ?? '');
  const filename = disposition.params.filename ?? params.name;
  const part: MimePart = {
    headers,
    contentType,
    params,
    body: Buffer.alloc(0),
    parts: [],
    filename: filename ? decodeWords(filename) : undefined,
  };
  if (contentType.startsWith('multipart/') && params.boundary && depth < 10) {
    const text = body.toString('latin1');
    const delimiter = `--${params.boundary}`;
    const chunks = text.split(delimiter).slice(1);
    for (const chunk of chunks) {
      if (chunk.startsWith('--')) break;
      const content = chunk.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
      part.parts.push(parseEml(Buffer.from(content, 'latin1'), depth + 1));
    }
    return part;
  }
  const encoding = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (encoding === 'base64') part.body = Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64');
  else if (encoding === 'quoted-printable') part.body = decodeQuotedPrintable(body);
  else part.body = body;
  return part;
}

/** All leaf parts, depth first. */
export function leafParts(part: MimePart): MimePart[] {
  return part.parts.length === 0 ? [part] : part.parts.flatMap(leafParts);
}

/** Leaf parts that carry a file name (attachments and inline files). */
export function attachmentsOf(part: MimePart): MimePart[] {
  return leafParts(part).filter((p) => p.filename !== undefined);
}

/** The first text/plain leaf's text (charset treated as UTF-8), or ''. */
export function textOf(part: MimePart): string {
  const t = leafParts(part).find((p) => p.contentType === 'text/plain' && p.filename === undefined);
  return t ? t.body.toString('utf8') : '';
}
