import { z } from 'zod';

/**
 * Role-based access policy and its decision function, without I/O. Subjects are bound to roles; roles
 * allow or deny (resource pattern × permission pattern); global deny rules apply to subject patterns.
 * Any matching deny wins over every allow; no matching allow means deny.
 *
 * Patterns: `*` matches any run of characters except `/`, `**` matches anything (including `/`),
 * everything else is literal.
 */
const ruleSchema = z.object({
  name: z.string().optional(),
  resources: z.array(z.string().min(1)).min(1),
  permissions: z.array(z.string().min(1)).min(1),
});
const roleSchema = z.object({
  description: z.string().optional(),
  allow: z.array(ruleSchema).default([]),
  deny: z.array(ruleSchema).default([]),
});
export const policySchema = z
  .object({
    version: z.literal(1),
    roles: z.record(z.string(), roleSchema),
    /** Subject pattern → role names. */
    bindings: z.record(z.string(), z.array(z.string())),
    /** Denies for subject patterns, whatever their roles. */
    deny: z.array(ruleSchema.extend({ subjects: z.array(z.string().min(1)).min(1) })).default([]),
  })
  .superRefine((p, ctx) => {
    for (const [subject, roles] of Object.entries(p.bindings)) {
      for (const r of roles) {
        if (!(r in p.roles))
          ctx.addIssue({
            code: 'custom',
            path: ['bindings', subject],
            message: `role ${r} is not defined under roles`,
          });
      }
    }
  });
export type Policy = z.infer<typeof policySchema>;

export type DecisionReason = 'explicit_deny' | 'allowed' | 'no_matching_allow';

export interface PermissionDecision {
  permission: string;
  effect: 'allow' | 'deny';
  reason: DecisionReason;
  /** The rule that decided, e.g. `roles.ml-engineer.allow[0]` or `deny[protect-keys]`. */
  rule?: string;
}

export interface Decision {
  /** True only when every requested permission is allowed. */
  allowed: boolean;
  roles: string[];
  permissions: PermissionDecision[];
}

const patternCache = new Map<string, RegExp>();

/** Compiles a policy pattern (`*`, `**`) to an anchored regular expression. */
export function compilePattern(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    const body = pattern
      .split('**')
      .map((part) =>
        part
          .split('*')
          .map((lit) => lit.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
          .join('[^/]*'),
      )
      .join('.*');
    re = new RegExp(`^${body}$`, 's');
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re;
}

export function matches(pattern: string, value: string): boolean {
  return compilePattern(pattern).test(value);
}

function ruleId(prefix: string, rule: { name?: string }, index: number): string {
  return rule.name ? `${prefix}[${rule.name}]` : `${prefix}[${index}]`;
}

/** Roles bound to a subject, through exact or wildcard bindings, in policy order. */
export function rolesOf(policy: Policy, subject: string): string[] {
  const roles = new Set<string>();
  for (const [pattern, bound] of Object.entries(policy.bindings)) {
    if (matches(pattern, subject)) for (const r of bound) roles.add(r);
  }
  return [...roles];
}

/** Decides whether `subject` holds each of `permissions` on `resource`. */
export function decide(policy: Policy, subject: string, resource: string, permissions: string[]): Decision {
  const roles = rolesOf(policy, subject);
  const decisions = permissions.map((permission): PermissionDecision => {
    const hit = (rule: { resources: string[]; permissions: string[] }) =>
      rule.resources.some((r) => matches(r, resource)) &&
      rule.permissions.some((p) => matches(p, permission));

    for (const [i, rule] of policy.deny.entries()) {
      if (rule.subjects.some((s) => matches(s, subject)) && hit(rule))
        return { permission, effect: 'deny', reason: 'explicit_deny', rule: ruleId('deny', rule, i) };
    }
    for (const role of roles) {
      for (const [i, rule] of policy.roles[role]!.deny.entries()) {
        if (hit(rule))
          return {
            permission,
            effect: 'deny',
            reason: 'explicit_deny',
            rule: ruleId(`roles.${role}.deny`, rule, i),
          };
      }
    }
    for (const role of roles) {
      for (const [i, rule] of policy.roles[role]!.allow.entries()) {
        if (hit(rule))
          return {
            permission,
            effect: 'allow',
            reason: 'allowed',
            rule: ruleId(`roles.${role}.allow`, rule, i),
          };
      }
    }
    return { permission, effect: 'deny', reason: 'no_matching_allow' };
  });
  return {
    allowed: decisions.length > 0 && decisions.every((d) => d.effect === 'allow'),
    roles,
    permissions: decisions,
  };
}

/** The policy generated on first start; edit `<dataDir>/policy.yaml` to change it. */
export function defaultPolicy(serverGroups: string[]): Policy {
  return {
    version: 1,
    roles: {
      reader: {
        description: 'Read anything that is not key material',
        allow: [{ name: 'read-all', resources: ['**'], permissions: ['read', 'read_*'] }],
        deny: [],
      },
      'pipeline-runner': {
        description: 'What orchestrated pipelines do: read data, write datasets, models and their artifacts',
        allow: [
          {
            name: 'pipeline-data',
            resources: ['datasets/**', 'models/**', 'ml_model_*', 'ml_model_*/**', 'storage://**', 'table:*'],
            permissions: ['read_*', 'write_*', 'read', 'write'],
          },
        ],
        deny: [{ name: 'no-deletes', resources: ['**'], permissions: ['delete', 'delete_*'] }],
      },
      admin: {
        description: 'Everything not denied globally',
        allow: [{ name: 'all', resources: ['**'], permissions: ['*'] }],
        deny: [],
      },
    },
    bindings: {
      orchestrator: ['reader', 'pipeline-runner'],
      ...Object.fromEntries(serverGroups.map((g) => [`orchestrator-${g}`, ['reader', 'pipeline-runner']])),
      'admin:*': ['admin'],
    },
    deny: [
      {
        name: 'protect-key-material',
        subjects: ['**'],
        resources: ['keys/**', 'secrets/**', 'security:keys'],
        permissions: ['*'],
      },
    ],
  };
}
