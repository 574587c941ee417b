import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const cache = new WeakMap<object, ValidateFunction>();

function describe(e: ErrorObject): string {
  const where = e.instancePath ? `'${e.instancePath.slice(1).replace(/\//g, '.')}'` : 'arguments';
  if (e.keyword === 'required') return `missing required argument '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'additionalProperties') return `unknown argument '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'enum') return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/**
 * Validates literal tool arguments against the tool's input JSON Schema before a run starts.
 * Arguments that hold `${...}` references (`deferred`) are only known at run time: a "required" error
 * about them is not one, and their values are checked by the server when the step runs.
 */
export function validateToolArgs(schema: unknown, args: Record<string, unknown>, deferred: string[]): string[] {
  if (!schema || typeof schema !== 'object') return [];
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema as object);
    cache.set(schema, validate);
  }
  if (validate(args)) return [];
  return (validate.errors ?? [])
    .filter((e) => !(e.keyword === 'required' && deferred.includes((e.params as { missingProperty: string }).missingProperty)))
    .map(describe);
}
