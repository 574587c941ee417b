import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { LOW_LATENCY_DYNAMIC_CONFIG } from '../../../src/client/stack/temporal-dev-server';

/** No Docker engine runs here, so the compose file is checked by parsing it. */
describe('docker-compose.temporal.yml', () => {
  const root = path.join(__dirname, '../../..');
  const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.temporal.yml'), 'utf8')) as {
    services: Record<string, { image: string; ports?: string[]; volumes?: string[]; environment?: Record<string, string>; depends_on?: unknown }>;
  };

  it('when parsed, then it has PostgreSQL, the server, the Web UI and admin tools', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui']);
  });

  it('when images are listed, then every tag is pinned (no latest, no bare names)', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(`${name}: ${svc.image}`).toMatch(/:[0-9][\w.-]*$/);
    }
  });

  it('when workers connect, then the frontend is on 7233 and the UI on 8233 like the dev server', () => {
    expect(compose.services.temporal!.ports).toContain('7233:7233');
    expect(compose.services['temporal-ui']!.ports).toContain('8233:8080');
    expect(compose.services.temporal!.environment!.DB).toBe('postgres12');
  });

  it('when the server mounts dynamic config, then the file exists and sets the low-latency knobs', () => {
    const mount = compose.services.temporal!.volumes!.find((v) => v.includes('dynamicconfig'))!;
    const hostDir = path.join(root, mount.split(':')[0]!);
    const file = compose.services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH!.split('/').pop()!;
    const cfg = parse(fs.readFileSync(path.join(hostDir, file), 'utf8')) as Record<string, Array<{ value: unknown }>>;
    // The same knobs `mcp-orch up` passes to the dev server, so both deployments measure alike.
    for (const [key, value] of Object.entries(LOW_LATENCY_DYNAMIC_CONFIG)) expect({ key, value: cfg[key]?.[0]?.value }).toEqual({ key, value });
  });
});
