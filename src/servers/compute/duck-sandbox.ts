import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * A throw-away in-memory DuckDB whose file access is confined to one fresh temp directory: external
 * access is switched off with only that directory allowed, and the configuration is locked, so
 * nothing a dataset contains (or a column name we interpolate) can reach other files.
 */
export class DuckSandbox {
  private constructor(
    readonly dir: string,
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  /** @param tmpRoot parent of the sandbox's directory (default: OS temp dir). */
  static async open(opts: { tmpRoot?: string; threads?: number; memoryLimit?: string } = {}): Promise<DuckSandbox> {
    const root = opts.tmpRoot ?? os.tmpdir();
    fs.mkdirSync(root, { recursive: true });
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(root, 'duck-')));
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(opts.threads ?? Math.max(1, Math.min(2, os.cpus().length))),
      memory_limit: opts.memoryLimit ?? '1GB',
    });
    const conn = await instance.connect();
    try {
      await conn.run(`SET temp_directory = ${sqlString(path.join(dir, 'spill'))}`);
      await conn.run(`SET allowed_directories = [${sqlString(dir + path.sep)}]`);
      await conn.run('SET enable_external_access = false');
      await conn.run('SET autoinstall_known_extensions = false');
      await conn.run('SET autoload_known_extensions = false');
      await conn.run('SET lock_configuration = true');
    } catch (err) {
      conn.closeSync();
      instance.closeSync();
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new DuckSandbox(dir, instance, conn);
  }

  /** A path inside the sandbox directory (the only place DuckDB may read or write). */
  file(name: string): string {
    if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new Error(`bad sandbox file name: ${name}`);
    return path.join(this.dir, name);
  }

  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const r = await this.conn.runAndReadAll(sql);
    return r.getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Column names and DuckDB types of a query's result. */
  async describe(sql: string): Promise<{ name: string; type: string }[]> {
    const rows = await this.rows(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  }

  close(): void {
    try {
      this.conn.closeSync();
      this.instance.closeSync();
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL identifier (column names come from callers; quoting makes any name inert). */
export function sqlIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

/** DuckDB type names that hold a point in time. */
export function isTemporalType(type: string): boolean {
  return /^(TIMESTAMP|DATE)/i.test(type);
}

/** DuckDB type names that hold numbers. */
export function isNumericType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL|REAL)/i.test(type);
}
