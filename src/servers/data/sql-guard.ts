import { StatementType } from '@duckdb/node-api';

/** Readable name of a DuckDB statement type (`SELECT`, `DROP`, …). */
export function statementTypeName(t: StatementType): string {
  return (StatementType as unknown as Record<number, string>)[t] ?? `UNKNOWN(${t})`;
}

/** The only statement type `sql_query` runs: SELECT, which covers WITH … SELECT, VALUES and FROM-first queries. */
export const QUERY_STATEMENT_TYPES: ReadonlySet<StatementType> = new Set([StatementType.SELECT]);

/**
 * First keywords a `sql_query` statement may start with. DuckDB rewrites some other statements (PRAGMA,
 * CALL-like pragmas) into SELECTs before typing them, so the type check alone would let `PRAGMA …` through.
 */
export const QUERY_HEAD_KEYWORDS: ReadonlySet<string> = new Set([
  'SELECT',
  'WITH',
  'FROM',
  'VALUES',
  'TABLE',
  '(',
  'DESCRIBE',
  'SHOW',
  'SUMMARIZE',
]);

/** The statement's first keyword (upper-cased) after comments, or `(` for a parenthesised query. */
export function headKeyword(sql: string): string {
  const s = stripLeadingComments(sql);
  if (s.startsWith('(')) return '(';
  return (/^[A-Za-z_]+/.exec(s)?.[0] ?? '').toUpperCase();
}

/** Statement types `run_etl` accepts; anything else (ATTACH, COPY, SET, PRAGMA, LOAD, CALL, …) is refused. */
export const ETL_STATEMENT_TYPES: ReadonlySet<StatementType> = new Set([
  StatementType.SELECT,
  StatementType.INSERT,
  StatementType.UPDATE,
  StatementType.DELETE,
  StatementType.CREATE,
  StatementType.DROP,
  StatementType.ALTER,
  StatementType.MERGE_INTO,
]);

/** Statement types that name a target object which must live in an allowed ETL schema. */
const ETL_TARGETED: ReadonlySet<StatementType> = new Set([
  StatementType.INSERT,
  StatementType.UPDATE,
  StatementType.DELETE,
  StatementType.CREATE,
  StatementType.DROP,
  StatementType.ALTER,
  StatementType.MERGE_INTO,
]);

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QUALIFIED = String.raw`(${IDENT}(?:\s*\.\s*${IDENT}){0,2})`;

/** Removes leading whitespace and SQL comments, which DuckDB allows before the statement keyword. */
export function stripLeadingComments(sql: string): string {
  let s = sql;
  for (let guard = 0; guard < 1000; guard++) {
    const before = s;
    s = s.replace(/^\s+/, '');
    if (s.startsWith('--')) s = s.replace(/^--[^\n]*(\n|$)/, '');
    else if (s.startsWith('/*')) {
      const end = s.indexOf('*/');
      s = end < 0 ? '' : s.slice(end + 2);
    }
    if (s === before) break;
  }
  return s;
}

function unquote(ident: string): string {
  const t = ident.trim();
  // DuckDB matches identifiers case-insensitively even when quoted, so compare lower-cased.
  return (t.startsWith('"') ? t.slice(1, -1).replace(/""/g, '"') : t).toLowerCase();
}

/** Splits `a.b.c` (quoted parts allowed) into unquoted parts. */
export function splitQualifiedName(name: string): string[] {
  const parts: string[] = [];
  const re = new RegExp(IDENT, 'g');
  for (const m of name.matchAll(re)) parts.push(unquote(m[0]));
  return parts;
}

const TARGET_PATTERNS: Array<{ types: StatementType[]; re: RegExp; kind: string }> = [
  {
    types: [StatementType.CREATE],
    re: new RegExp(
      String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|PERSISTENT)\s+)?(?:UNIQUE\s+)?(TABLE|VIEW|SEQUENCE|MACRO|FUNCTION|TYPE|SCHEMA|INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?${QUALIFIED}`,
      'i',
    ),
    kind: 'create',
  },
  {
    types: [StatementType.DROP],
    re: new RegExp(
      String.raw`^DROP\s+(TABLE|VIEW|SEQUENCE|MACRO(?:\s+TABLE)?|FUNCTION|TYPE|SCHEMA|INDEX)\s+(?:IF\s+EXISTS\s+)?${QUALIFIED}`,
      'i',
    ),
    kind: 'drop',
  },
  {
    types: [StatementType.ALTER],
    re: new RegExp(String.raw`^ALTER\s+(TABLE|VIEW|SEQUENCE)\s+(?:IF\s+EXISTS\s+)?${QUALIFIED}`, 'i'),
    kind: 'alter',
  },
  {
    types: [StatementType.INSERT],
    re: new RegExp(String.raw`^INSERT\s+(?:OR\s+(?:REPLACE|IGNORE)\s+)?INTO\s+()${QUALIFIED}`, 'i'),
    kind: 'insert',
  },
  {
    types: [StatementType.UPDATE],
    re: new RegExp(String.raw`^UPDATE\s+()${QUALIFIED}`, 'i'),
    kind: 'update',
  },
  {
    types: [StatementType.DELETE],
    re: new RegExp(String.raw`^DELETE\s+FROM\s+()${QUALIFIED}`, 'i'),
    kind: 'delete',
  },
  {
    types: [StatementType.MERGE_INTO],
    re: new RegExp(String.raw`^MERGE\s+INTO\s+()${QUALIFIED}`, 'i'),
    kind: 'merge',
  },
];

export interface EtlTarget {
  /** Object kind for CREATE/DROP (`table`, `view`, `schema`, …), else the verb. */
  objectKind: string;
  /** Schema the statement writes to. */
  schema: string;
  /** Object name (for `schema` objects, the schema itself). */
  name: string;
}

/**
 * Finds the object a write statement targets and checks it lives in one of `allowedSchemas`.
 * DuckDB's parser already told us the statement type; this reads the target from the statement's head,
 * which for these statement types is fixed grammar. A statement that starts with a CTE (`WITH … INSERT`)
 * is refused because its target cannot be read from the head: put the CTE inside the SELECT.
 * Returns the target, or a message saying what to fix.
 */
export function checkEtlTarget(
  sql: string,
  type: StatementType,
  allowedSchemas: readonly string[],
): { ok: true; target?: EtlTarget } | { ok: false; message: string } {
  if (!ETL_TARGETED.has(type)) return { ok: true };
  const head = stripLeadingComments(sql);
  const pattern = TARGET_PATTERNS.find((p) => p.types.includes(type));
  const m = pattern?.re.exec(head);
  if (!pattern || !m) {
    return {
      ok: false,
      message: `cannot determine the target of this ${statementTypeName(type)} statement; start it with the statement keyword and a schema-qualified name (e.g. CREATE TABLE ${allowedSchemas[0]}.name AS …), and move any WITH clause inside the SELECT`,
    };
  }
  const objectKind = (m[1] || pattern.kind).toLowerCase().replace(/\s+/g, ' ');
  // Moving or renaming an object out of the ETL schemas would let a later statement write elsewhere.
  if (type === StatementType.ALTER && /\bSET\s+SCHEMA\b/i.test(head)) {
    return { ok: false, message: 'ALTER … SET SCHEMA is refused: objects must stay in the ETL schemas' };
  }
  const parts = splitQualifiedName(m[2] ?? '');
  let schema: string | undefined;
  let name: string;
  if (objectKind === 'schema') {
    if (parts.length !== 1) return { ok: false, message: `schema name ${m[2]} must not be qualified` };
    schema = parts[0];
    name = parts[0] ?? '';
  } else if (parts.length === 2) {
    schema = parts[0];
    name = parts[1] ?? '';
  } else if (parts.length === 3) {
    return {
      ok: false,
      message: `target ${m[2]} names a catalog; write to ${allowedSchemas.join(' or ')}.<name> in the main database`,
    };
  } else {
    return {
      ok: false,
      message: `target ${m[2]} is not schema-qualified; write to ${allowedSchemas.map((s) => `${s}.${m[2]}`).join(' or ')}`,
    };
  }
  if (!schema || !allowedSchemas.includes(schema)) {
    return {
      ok: false,
      message: `target ${m[2]} is in schema "${schema}", which run_etl may not write; allowed schemas: ${allowedSchemas.join(', ')}`,
    };
  }
  return { ok: true, target: { objectKind, schema, name } };
}

/** Pulls the character offset out of DuckDB's `json_serialize_sql` error document, when present. */
export function parsePositionFromSerializeError(json: string): { message?: string; position?: number } {
  try {
    const doc = JSON.parse(json) as { error?: boolean; error_message?: string; position?: string | number };
    if (!doc.error) return {};
    const pos = doc.position === undefined ? undefined : Number(doc.position);
    return { message: doc.error_message, position: Number.isFinite(pos) ? pos : undefined };
  } catch {
    return {};
  }
}

/** 0-based character offset → 1-based line and column, for error messages. */
export function lineAndColumn(sql: string, offset: number): { line: number; column: number } {
  const before = sql.slice(0, Math.max(0, Math.min(offset, sql.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}
