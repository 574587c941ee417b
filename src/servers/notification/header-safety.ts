/**
 * Checks that keep caller-supplied strings from changing the structure of an e-mail (security scenario
 * 20): a CR or LF in an address, subject or header would let a caller add headers (`Bcc:`) or end the
 * header block and start a body of their own. Pure functions, so they are tested without SMTP.
 */

/** Any C0 control character but TAB, plus DEL. CR, LF and NUL are among them. */
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Unicode line and paragraph separators: some mail clients treat them as line breaks. */
const UNICODE_BREAKS = /[\u0085\u2028\u2029]/;

/**
 * A practical subset of RFC 5321 mailbox syntax. It is stricter than the RFC on purpose: quoted local
 * parts and characters like `|`, `` ` `` or `$` are legal but only ever appear in attacks on mailers
 * that pipe addresses to a shell.
 */
const LOCAL_PART = /^[A-Za-z0-9._%+-]{1,64}$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** `Display Name <local@domain>`; the display name is plain text without angle brackets or quotes. */
const NAME_ADDR = /^([^<>"]{0,100}?)\s*<([^<>\s]+)>$/;

/** Why a value was refused; `field` names the argument so the caller knows what to fix. */
export class UnsafeValueError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'UnsafeValueError';
  }
}

function describeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code === 0x0d) return 'CR (\\r)';
  if (code === 0x0a) return 'LF (\\n)';
  if (code === 0) return 'NUL';
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Refuses control characters (CR, LF, NUL, …) and Unicode line breaks in a value that becomes part of
 * a header line.
 */
export function assertSingleLine(field: string, value: string): void {
  const m = CONTROL_CHARS.exec(value) ?? UNICODE_BREAKS.exec(value);
  if (m) {
    throw new UnsafeValueError(
      field,
      `contains the control character ${describeChar(m[0])} at index ${m.index}; header values must be one line (header injection refused)`,
    );
  }
}

/** A parsed, validated mailbox. */
export interface Mailbox {
  /** Display name, possibly empty. */
  name: string;
  /** `local@domain`, as given (case preserved). */
  address: string;
}

/** True for `local@domain` in the accepted subset (domain: dot-separated labels, no trailing dot). */
export function isValidAddress(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!LOCAL_PART.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..'))
    return false;
  const labels = domain.split('.');
  return domain.length <= 253 && labels.every((l) => DOMAIN_LABEL.test(l));
}

/**
 * Parses `local@domain` or `Name <local@domain>`; refuses control characters, address lists smuggled
 * into one item (`a@x, b@y`), and anything outside the accepted syntax.
 */
export function parseMailbox(field: string, value: string): Mailbox {
  assertSingleLine(field, value);
  const trimmed = value.trim();
  if (trimmed === '') throw new UnsafeValueError(field, 'is empty; give an address like ops@example.com');
  let name = '';
  let address = trimmed;
  const m = NAME_ADDR.exec(trimmed);
  if (m) {
    name = (m[1] ?? '').trim();
    address = m[2] ?? '';
    if (/[,;:\\]/.test(name)) {
      throw new UnsafeValueError(
        field,
        `display name "${name}" contains , ; : or \\; give one mailbox per item`,
      );
    }
  }
  if (/[,;]/.test(address))
    throw new UnsafeValueError(field, `"${value}" holds several addresses; give one mailbox per array item`);
  if (!isValidAddress(address)) {
    throw new UnsafeValueError(
      field,
      `"${value}" is not a valid e-mail address (expected local@domain, local part of letters, digits and . _ % + -)`,
    );
  }
  return { name, address };
}

/** Header names a caller may set; structural headers (From, To, Bcc, Content-Type, …) stay ours. */
const CUSTOM_HEADER_NAME = /^X-[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

/** Validates caller-supplied extra headers: `X-…` names only, single-line values. */
export function assertSafeHeaders(field: string, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!CUSTOM_HEADER_NAME.test(name)) {
      assertSingleLine(`${field} name`, name);
      throw new UnsafeValueError(
        `${field}["${name}"]`,
        'only custom X-… header names (letters, digits, -) may be set; structural headers are set by the server',
      );
    }
    assertSingleLine(`${field}["${name}"]`, value);
  }
}

/** Attachment file names: one line, no path separators, not `.`/`..`. */
export function assertSafeFilename(field: string, filename: string): void {
  assertSingleLine(field, filename);
  if (/[/\\]/.test(filename))
    throw new UnsafeValueError(field, `"${filename}" contains a path separator; give a bare file name`);
  if (filename === '.' || filename === '..' || filename.trim() === '')
    throw new UnsafeValueError(field, `"${filename}" is not a file name`);
}

/**
 * Makes body text inert as far as SMTP framing goes: normalises CRLF and bare CR to LF and drops NUL,
 * so the transport's own line-ending and dot-stuffing rules apply to every line (no SMTP smuggling via
 * bare `\r` or `\n.\r\n`). Headers can never be reached from the body: it follows the blank line the
 * mailer writes itself.
 */
export function normaliseBodyText(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(/\u0000/g, '');
}
