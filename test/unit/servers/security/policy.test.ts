import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  decide,
  defaultPolicy,
  matches,
  policySchema,
  type Policy,
} from '../../../../src/servers/security/policy';
import { PolicyFile, PolicyFileError } from '../../../../src/servers/security/policy-file';

const policy: Policy = policySchema.parse({
  version: 1,
  roles: {
    analyst: {
      allow: [{ resources: ['datasets/*'], permissions: ['read_*'] }],
      deny: [{ name: 'no-pii', resources: ['datasets/pii_*'], permissions: ['*'] }],
    },
    trainer: {
      allow: [
        {
          resources: ['ml_model_*', 'models/**'],
          permissions: ['read_training_data', 'write_model_artifacts'],
        },
      ],
    },
  },
  bindings: { alice: ['analyst'], 'orchestrator-*': ['trainer', 'analyst'] },
  deny: [
    {
      name: 'freeze-prod',
      subjects: ['orchestrator-compute'],
      resources: ['models/prod/**'],
      permissions: ['write_*'],
    },
  ],
});

describe('policy patterns', () => {
  test('"*" stops at "/", "**" crosses it, other characters are literal', () => {
    expect(matches('datasets/*', 'datasets/a.csv')).toBe(true);
    expect(matches('datasets/*', 'datasets/x/a.csv')).toBe(false);
    expect(matches('datasets/**', 'datasets/x/a.csv')).toBe(true);
    expect(matches('a.b', 'aXb')).toBe(false);
    expect(matches('read_(x)+', 'read_(x)+')).toBe(true);
    expect(matches('**', 'anything/at/all')).toBe(true);
  });
});

describe('policy decisions', () => {
  test('when a role allows the resource and permission, then it is allowed with the deciding rule named', () => {
    const d = decide(policy, 'alice', 'datasets/sales.csv', ['read_rows']);
    expect(d).toMatchObject({
      allowed: true,
      roles: ['analyst'],
      permissions: [{ effect: 'allow', reason: 'allowed', rule: 'roles.analyst.allow[0]' }],
    });
  });

  test('when a role deny matches, then it wins over an allow of the same role', () => {
    const d = decide(policy, 'alice', 'datasets/pii_customers', ['read_rows']);
    expect(d.allowed).toBe(false);
    expect(d.permissions[0]).toMatchObject({
      effect: 'deny',
      reason: 'explicit_deny',
      rule: 'roles.analyst.deny[no-pii]',
    });
  });

  test('when a global deny matches a wildcard-bound subject, then it wins over its role allow', () => {
    expect(decide(policy, 'orchestrator-data', 'models/prod/m.onnx', ['write_model_artifacts']).allowed).toBe(
      true,
    );
    const d = decide(policy, 'orchestrator-compute', 'models/prod/m.onnx', ['write_model_artifacts']);
    expect(d.permissions[0]).toMatchObject({
      effect: 'deny',
      reason: 'explicit_deny',
      rule: 'deny[freeze-prod]',
    });
  });

  test('when one of several permissions is not allowed, then the whole request is denied and each is reported', () => {
    const d = decide(policy, 'orchestrator-compute', 'ml_model_training_job_892341', [
      'read_training_data',
      'write_model_artifacts',
      'delete_model',
    ]);
    expect(d.allowed).toBe(false);
    expect(d.permissions.map((p) => p.effect)).toEqual(['allow', 'allow', 'deny']);
    expect(d.permissions[2]!.reason).toBe('no_matching_allow');
  });

  test('when the subject has no binding, then everything is denied by default', () => {
    expect(decide(policy, 'mallory', 'datasets/a', ['read_rows'])).toMatchObject({
      allowed: false,
      roles: [],
    });
  });

  test('when a binding names an undefined role, then the policy is rejected', () => {
    expect(policySchema.safeParse({ version: 1, roles: {}, bindings: { x: ['ghost'] } }).success).toBe(false);
  });

  test('the default policy allows the product flow and denies key material to everyone, even admins', () => {
    const p = policySchema.parse(defaultPolicy(['data', 'compute']));
    expect(
      decide(p, 'orchestrator-compute', 'ml_model_training_job_892341', [
        'read_training_data',
        'write_model_artifacts',
      ]).allowed,
    ).toBe(true);
    expect(decide(p, 'orchestrator-data', 'models/x', ['delete']).allowed).toBe(false);
    expect(decide(p, 'admin:root', 'keys/master', ['read']).permissions[0]!.rule).toBe(
      'deny[protect-key-material]',
    );
    expect(decide(p, 'admin:root', 'anything', ['delete']).allowed).toBe(true);
  });
});

describe('PolicyFile', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-policy-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('when missing, then the default is generated (0600); when edited, then the next load sees the edit', () => {
    const file = path.join(dir, 'policy.yaml');
    const pf = new PolicyFile(file, ['data']);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(Object.keys(pf.load().roles)).toContain('reader');
    fs.writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        roles: { r: { allow: [{ resources: ['x'], permissions: ['y'] }] } },
        bindings: { s: ['r'] },
      }),
    );
    expect(Object.keys(pf.load().roles)).toEqual(['r']);
  });

  test('when the file becomes invalid, then load throws a PolicyFileError naming the problem', () => {
    const file = path.join(dir, 'policy.json');
    const pf = new PolicyFile(file, ['data']);
    fs.writeFileSync(file, '{"version": 2, "roles": {}, "bindings": {}}');
    expect(() => pf.load()).toThrow(PolicyFileError);
    expect(() => pf.load()).toThrow(/version/);
    fs.writeFileSync(file, 'roles: [unclosed');
    expect(() => pf.load()).toThrow(/not valid YAML/);
  });
});
