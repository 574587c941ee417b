import fs from 'node:fs';
import YAML from 'yaml';
import { defaultPolicy, policySchema, type Policy } from './policy';

/** The policy file could not be used; decisions fail closed until it is fixed. */
export class PolicyFileError extends Error {
  override name = 'PolicyFileError';
}

/**
 * The policy in a YAML or JSON file (YAML is a superset of JSON), generated with the default policy
 * when missing and re-read whenever its modification time changes, so an operator's edit applies to
 * the next decision without a restart.
 */
export class PolicyFile {
  private cached?: { mtimeMs: number; size: number; policy: Policy };

  constructor(
    readonly file: string,
    serverGroups: string[],
  ) {
    if (!fs.existsSync(file)) {
      const header =
        '# RBAC policy of the security server. Edited copies are re-read on the next decision.\n# Patterns: * = any run without "/", ** = anything. Any matching deny wins; no matching allow = deny.\n';
      fs.writeFileSync(file, header + YAML.stringify(defaultPolicy(serverGroups)), { mode: 0o600 });
    }
  }

  /** The current policy; throws {@link PolicyFileError} when the file is unreadable or invalid. */
  load(): Policy {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.file);
    } catch (err) {
      throw new PolicyFileError(`policy file ${this.file} cannot be read: ${(err as Error).message}`);
    }
    if (this.cached && this.cached.mtimeMs === stat.mtimeMs && this.cached.size === stat.size)
      return this.cached.policy;
    let raw: unknown;
    try {
      raw = YAML.parse(fs.readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new PolicyFileError(`policy file ${this.file} is not valid YAML/JSON: ${(err as Error).message}`);
    }
    const parsed = policySchema.safeParse(raw);
    if (!parsed.success) {
      throw new PolicyFileError(
        `policy file ${this.file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    this.cached = { mtimeMs: stat.mtimeMs, size: stat.size, policy: parsed.data };
    return parsed.data;
  }
}
