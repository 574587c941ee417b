import fs from 'node:fs';
import path from 'node:path';
import type { McpClientPoolOptions } from '../../mcp/pool';
import type { Registry } from '../../registry/registry';
import type { Plan } from '../../shared/plan';
import { PipelineError } from '../../shared/problems';
import { ToolError } from '../kit';
import { discoverCatalog, planFromText, resolveSpecPath, SpecPathError } from './plan-source';

export interface SpecPlannerOptions {
  /** Server registry (groups and endpoints) the plan is checked against. */
  registry: () => Registry;
  /** Pool options for discovery (read-only `orchestrator` tokens, as the CLI uses). */
  poolOptions: () => McpClientPoolOptions;
  pipelinesDir: string;
  maxSpecBytes: number;
  discoverTools: boolean;
  discoveryTimeoutMs: number;
}

/** A spec given to a tool: YAML text, or a file of the pipelines folder. */
export interface SpecSource {
  specYaml?: string;
  specPath?: string;
  inputs?: Record<string, string | number | boolean>;
}

export interface PlannedSpec {
  plan: Plan;
  unchecked: string[];
  planningMs: number;
  discoveryMs: number;
  source: string;
}

/**
 * Turns a tool's spec argument into a plan exactly as `mcp-orch run` does (discovery of the live
 * catalog, then parse + plan + argument validation), and reports mistakes as `ToolError`s that carry
 * every problem with its line.
 */
export class SpecPlanner {
  constructor(private readonly opts: SpecPlannerOptions) {}

  async plan(src: SpecSource): Promise<PlannedSpec> {
    const { text, source } = this.read(src);
    const registry = this.opts.registry();
    const t0 = performance.now();
    const discovery = this.opts.discoverTools
      ? await discoverCatalog(registry, this.opts.poolOptions(), this.opts.discoveryTimeoutMs)
      : undefined;
    const discoveryMs = performance.now() - t0;
    try {
      const planned = planFromText(text, { source, registry, discovery, input: src.inputs });
      return { ...planned, discoveryMs, source };
    } catch (err) {
      if (err instanceof PipelineError) {
        const n = err.problems.length;
        throw new ToolError(
          `invalid pipeline (${n} problem${n > 1 ? 's' : ''}):\n${err.message}`,
          'invalid_pipeline',
        );
      }
      throw new ToolError(
        `cannot plan ${source}: ${err instanceof Error ? err.message : String(err)}`,
        'invalid_pipeline',
      );
    }
  }

  private read(src: SpecSource): { text: string; source: string } {
    if ((src.specYaml === undefined) === (src.specPath === undefined)) {
      throw new ToolError(
        'give exactly one of spec_yaml (the YAML text) and spec_path (a file of the pipelines folder, e.g. "hello.yaml")',
        'invalid_arguments',
      );
    }
    if (src.specYaml !== undefined) {
      const bytes = Buffer.byteLength(src.specYaml);
      if (bytes > this.opts.maxSpecBytes)
        throw new ToolError(
          `spec_yaml is ${bytes} bytes, more than the limit of ${this.opts.maxSpecBytes}`,
          'too_large',
        );
      // Problems are then reported as `spec_yaml:<line>:<col>`.
      return { text: src.specYaml, source: 'spec_yaml' };
    }
    let file: string;
    try {
      file = resolveSpecPath(this.opts.pipelinesDir, src.specPath!);
    } catch (err) {
      if (err instanceof SpecPathError) throw new ToolError(err.message, 'invalid_spec_path');
      throw err;
    }
    const size = fs.statSync(file).size;
    if (size > this.opts.maxSpecBytes)
      throw new ToolError(
        `spec_path '${src.specPath}' is ${size} bytes, more than the limit of ${this.opts.maxSpecBytes}`,
        'too_large',
      );
    return {
      text: fs.readFileSync(file, 'utf8'),
      source: `pipelines/${path.relative(fs.realpathSync(this.opts.pipelinesDir), file)}`,
    };
  }
}
