import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, formatPlainLine, logDir, stepLogger, withLogFields } from '../../../src/observability/logging/logger';
import { temporalLogger } from '../../../src/observability/logging/temporal-logger';

function capture() {
  const lines: string[] = [];
  const log = createLogger({ service: 'data-worker', stderr: false, dir: false, level: 'debug', stream: { write: (l) => lines.push(l) } });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, records };
}

describe('structured logs', () => {
  it('when a step logs, then every line carries the run id (workflow id) and the step id', () => {
    const { log, records } = capture();
    const step = stepLogger({ workflowId: 'hello-42', stepId: 'extract', server: 'data', tool: 'export_query' }, log);
    step.info({ callMs: 12 }, 'step call done');
    step.child({ attempt: 2 }).warn('step call failed');
    expect(records()).toEqual([
      expect.objectContaining({ level: 'info', service: 'data-worker', runId: 'hello-42', stepId: 'extract', server: 'data', tool: 'export_query', callMs: 12, msg: 'step call done' }),
      expect.objectContaining({ level: 'warn', runId: 'hello-42', stepId: 'extract', attempt: 2, msg: 'step call failed' }),
    ]);
    expect(typeof records()[0]!.time).toBe('string');
  });

  it('when code logs inside a log scope (a tool call), then its lines carry the scope fields, also after an await', async () => {
    const { log, records } = capture();
    await withLogFields({ runId: 'r1', stepId: 's1' }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      log.info('inside');
    });
    log.info('outside');
    expect(records().map((r) => [r.msg, r.runId, r.stepId])).toEqual([
      ['inside', 'r1', 's1'],
      ['outside', undefined, undefined],
    ]);
  });

  it('when a log directory is configured, then lines are appended to <dir>/<service>.log as JSON', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'logging-unit-'));
    try {
      expect(logDir({ MCP_DATA_ROOT: '/srv/.data' })).toBe(path.join('/srv/.data', 'logs'));
      expect(logDir({ MCP_DATA_ROOT: '/srv/.data', MCP_LOG_DIR: dir })).toBe(dir);
      expect(logDir({})).toBeUndefined();
      const log = createLogger({ service: 'storage', stderr: false, env: { MCP_LOG_DIR: path.join(dir, 'logs') } });
      log.info({ key: 'a/b' }, 'stored');
      log.debug('not at info level');
      const lines = fs.readFileSync(path.join(dir, 'logs', 'storage.log'), 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', service: 'storage', key: 'a/b', msg: 'stored' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when MCP_LOG_LEVEL or MCP_LOG_FORMAT is not valid, then creating the logger says which and what is allowed', () => {
    expect(() => createLogger({ service: 'x', dir: false, env: { MCP_LOG_LEVEL: 'loud' } })).toThrow(/MCP_LOG_LEVEL='loud' is not a level \(fatal, error/);
    expect(() => createLogger({ service: 'x', dir: false, env: { MCP_LOG_FORMAT: 'pretty' } })).toThrow(/MCP_LOG_FORMAT='pretty' must be 'plain' or 'json'/);
  });

  it('when stderr is for people, then a JSON line becomes one plain line with the time, level, service, message and fields', () => {
    const line = '{"level":"info","time":"2025-01-02T03:04:05.678Z","service":"data","runId":"r 1","stepId":"s","n":3,"msg":"tool call"}';
    expect(formatPlainLine(line)).toBe('03:04:05.678 INFO  data: tool call runId="r 1" stepId=s n=3\n');
    expect(formatPlainLine('not json')).toBe('not json\n');
  });
});

describe('Temporal runtime logger adapter', () => {
  it("when the SDK logs for an activity, then the line is pino JSON whose runId is the workflow id and Temporal's run id is kept apart", () => {
    const { log, records } = capture();
    const t = temporalLogger(log);
    t.warn('Activity failed', { sdkComponent: 'activity', workflowId: 'hello-42', runId: '0193-uuid', activityId: '3', attempt: 2, error: new Error('boom') });
    t.log('DEBUG', 'Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
    t.trace('too detailed');
    const [a, b, ...rest] = records();
    expect(a).toMatchObject({ level: 'warn', msg: 'Activity failed', runId: 'hello-42', temporalRunId: '0193-uuid', workflowId: 'hello-42', activityId: '3', attempt: 2, error: { name: 'Error', message: 'boom' } });
    expect(b).toMatchObject({ level: 'debug', msg: 'Worker state changed', state: 'RUNNING' });
    expect(b).not.toHaveProperty('runId');
    expect(rest).toEqual([]);
  });
});
