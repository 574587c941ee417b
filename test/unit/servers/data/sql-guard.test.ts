import { StatementType } from '@duckdb/node-api';
import {
  checkEtlTarget,
  headKeyword,
  lineAndColumn,
  parsePositionFromSerializeError,
  splitQualifiedName,
  stripLeadingComments,
} from '../../../../src/servers/data/sql-guard';

const ALLOWED = ['etl', 'staging'];

describe('checkEtlTarget', () => {
  it.each([
    ['CREATE TABLE etl.a AS SELECT 1', StatementType.CREATE, 'etl', 'a'],
    ['create or replace table staging.b (x int)', StatementType.CREATE, 'staging', 'b'],
    ['CREATE VIEW IF NOT EXISTS "etl"."My View" AS SELECT 1', StatementType.CREATE, 'etl', 'my view'],
    ['  -- note\n/* c */ INSERT INTO etl.a SELECT 1', StatementType.INSERT, 'etl', 'a'],
    ['INSERT OR REPLACE INTO etl . a VALUES (1)', StatementType.INSERT, 'etl', 'a'],
    ['UPDATE etl.a SET x = 1', StatementType.UPDATE, 'etl', 'a'],
    ['DELETE FROM staging.b WHERE x = 1', StatementType.DELETE, 'staging', 'b'],
    ['DROP TABLE IF EXISTS etl.a', StatementType.DROP, 'etl', 'a'],
    ['ALTER TABLE etl.a ADD COLUMN y INT', StatementType.ALTER, 'etl', 'a'],
    ['CREATE SCHEMA IF NOT EXISTS staging', StatementType.CREATE, 'staging', 'staging'],
    [
      'MERGE INTO etl.a USING etl.b ON a.x = b.x WHEN MATCHED THEN DELETE',
      StatementType.MERGE_INTO,
      'etl',
      'a',
    ],
    ['CREATE TABLE "ETL".a AS SELECT 1', StatementType.CREATE, 'etl', 'a'],
  ])('when the target of %s is in an ETL schema, then it is allowed', (sql, type, schema, name) => {
    const r = checkEtlTarget(sql, type, ALLOWED);
    expect(r).toEqual({ ok: true, target: expect.objectContaining({ schema, name }) });
  });

  it.each([
    ['CREATE TABLE a AS SELECT 1', StatementType.CREATE, /not schema-qualified/],
    ['CREATE TABLE main.a AS SELECT 1', StatementType.CREATE, /schema "main"/],
    ['DROP TABLE customers', StatementType.DROP, /not schema-qualified/],
    ['INSERT INTO data.main.customers VALUES (1)', StatementType.INSERT, /names a catalog/],
    ['UPDATE main.customers SET x = 1', StatementType.UPDATE, /schema "main"/],
    ['DELETE FROM "main"."customers"', StatementType.DELETE, /schema "main"/],
    ['DROP SCHEMA main CASCADE', StatementType.DROP, /schema "main"/],
    ['CREATE SCHEMA evil', StatementType.CREATE, /schema "evil"/],
    [
      'WITH x AS (SELECT 1) INSERT INTO etl.a SELECT * FROM x',
      StatementType.INSERT,
      /cannot determine the target/,
    ],
    ['ALTER TABLE etl.a SET SCHEMA main', StatementType.ALTER, /SET SCHEMA/],
    ['CREATE TABLE temp.a AS SELECT 1', StatementType.CREATE, /schema "temp"/],
  ])('when %s writes outside the ETL schemas, then it is refused', (sql, type, message) => {
    const r = checkEtlTarget(sql, type, ALLOWED);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('when the statement is a SELECT, then no target is needed', () => {
    expect(checkEtlTarget('SELECT 1', StatementType.SELECT, ALLOWED)).toEqual({ ok: true });
  });
});

describe('sql text helpers', () => {
  it('when leading comments and whitespace precede a statement, then they are stripped', () => {
    expect(stripLeadingComments('  -- a\n  /* b */\n-- c\nSELECT 1')).toBe('SELECT 1');
    expect(stripLeadingComments('/* never closed')).toBe('');
  });

  it('when the head keyword is read, then comments are skipped and case is normalised', () => {
    expect(headKeyword('/* x */ with a as (select 1) select * from a')).toBe('WITH');
    expect(headKeyword('(SELECT 1)')).toBe('(');
    expect(headKeyword('-- hi\npragma database_size')).toBe('PRAGMA');
  });

  it('when qualified names are split, then quotes are removed and names lower-cased', () => {
    expect(splitQualifiedName('"Etl"."A ""b"""')).toEqual(['etl', 'a "b"']);
    expect(splitQualifiedName('etl . x')).toEqual(['etl', 'x']);
  });

  it('when json_serialize_sql reports a parse error, then the position is extracted', () => {
    expect(
      parsePositionFromSerializeError('{"error":true,"error_message":"syntax error","position":"26"}'),
    ).toEqual({ message: 'syntax error', position: 26 });
    expect(parsePositionFromSerializeError('{"error":false}')).toEqual({});
    expect(parsePositionFromSerializeError('not json')).toEqual({});
  });

  it('when an offset is converted, then line and column are 1-based', () => {
    expect(lineAndColumn('SELECT\n  x FROM', 9)).toEqual({ line: 2, column: 3 });
    expect(lineAndColumn('abc', 0)).toEqual({ line: 1, column: 1 });
  });
});
