import { z } from 'zod';
import { DURATION_PATTERN } from './duration';

/**
 * The pipeline spec: a declarative DAG of MCP tool calls, written in YAML. This schema is the single
 * source of truth: the CLI validates with it, `npm run schema` exports it as JSON Schema for editors.
 */

const duration = z
  .union([z.number().nonnegative(), z.string().regex(DURATION_PATTERN, 'a duration such as 500ms, 30s, 5m, 1h')])
  .describe('A duration: milliseconds as a number, or a string such as 500ms, 30s, 5m, 1h.');

export const retrySchema = z
  .object({
    maximumAttempts: z.number().int().min(1).optional().describe('Attempts in all, first included. 1 = no retry.'),
    initialInterval: duration.optional().describe('Delay before the first retry.'),
    backoffCoefficient: z.number().min(1).optional().describe('Each retry waits this many times longer.'),
    maximumInterval: duration.optional().describe('Longest delay between retries.'),
    nonRetryableErrorTypes: z.array(z.string()).optional().describe('Extra failure types never retried.'),
  })
  .strict()
  .describe('Temporal retry policy of a step.');

export const timeoutsSchema = z
  .object({
    startToClose: duration.optional().describe('Longest single attempt.'),
    scheduleToClose: duration.optional().describe('Longest time for all attempts together.'),
    heartbeat: duration.optional().describe('Longest gap between heartbeats of a long call.'),
  })
  .strict()
  .describe('Activity timeouts of a step.');

const idPattern = /^[A-Za-z][A-Za-z0-9_-]*$/;
const stepId = z.string().regex(idPattern, 'letters, digits, _ and -, starting with a letter');

const toolCall = {
  server: z.string().min(1).describe('Server group that hosts the tool (data, storage, …, as in config/servers.yaml).'),
  tool: z.string().min(1).describe('MCP tool name on that server.'),
  args: z
    .record(z.string(), z.unknown())
    .default({})
    .describe('Tool arguments. Strings may hold ${input.x}, ${steps.<id>.result.<path>} and ${workflow.id}.'),
};

export const compensationSchema = z
  .object({
    ...toolCall,
    server: toolCall.server.optional().describe('Server group of the compensating tool; defaults to the step’s own.'),
  })
  .strict()
  .describe('Tool call that undoes the step; runs, in reverse completion order, if the run fails or is cancelled.');

const fieldTest = z
  .object({
    path: z.string().min(1).describe('Dotted path into the payload or result, e.g. status or body.data.status.'),
    in: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).describe('Values that make the test true.'),
  })
  .strict();

export const waitSchema = z
  .object({
    signal: z.string().min(1).describe('Signal name to wait for (e.g. trainingCompleted).'),
    match: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Dotted payload paths and the values they must equal; may hold ${...} references.'),
    timeout: duration.describe('Give up (and fail the step) after this long.'),
    poll: z
      .object({
        ...toolCall,
        every: duration.describe('Time between status checks.'),
        until: fieldTest.describe('The wait is over when the tool result passes this test.'),
      })
      .strict()
      .optional()
      .describe('Status checks while waiting: a fallback when the signal is lost, and the final state once it arrives.'),
    failWhen: fieldTest.optional().describe('Fail the step when the final result passes this test (e.g. status failed).'),
  })
  .strict()
  .describe('Wait for a signal (with status polling as a fallback) instead of calling a tool.');

export const stepSchema = z
  .object({
    server: toolCall.server.optional(),
    tool: toolCall.tool.optional(),
    args: toolCall.args,
    wait: waitSchema.optional(),
    phase: z.string().optional().describe('Phase of the pipeline this step belongs to, for the run log.'),
    description: z.string().optional().describe('What the step does, shown in progress and Web UI.'),
    needs: z.array(stepId).default([]).describe('Steps that must complete first. References to other steps add to this.'),
    retry: retrySchema.optional(),
    timeouts: timeoutsSchema.optional(),
    compensate: compensationSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.wait && (s.server || s.tool)) ctx.addIssue({ code: 'custom', message: 'a step either calls a tool (server, tool) or waits (wait), not both' });
    if (!s.wait) {
      if (!s.server) ctx.addIssue({ code: 'custom', path: ['server'], message: 'is required' });
      if (!s.tool) ctx.addIssue({ code: 'custom', path: ['tool'], message: 'is required' });
    }
  });

const inputValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const inputDeclSchema = z.union([
  inputValue.describe('Shorthand: the default value.'),
  z
    .object({
      type: z.enum(['string', 'number', 'boolean']).default('string'),
      default: inputValue.optional(),
      description: z.string().optional(),
      required: z.boolean().optional(),
    })
    .strict(),
]);

export const pipelineSpecSchema = z
  .object({
    name: z.string().regex(idPattern, 'letters, digits, _ and -, starting with a letter').describe('Pipeline name.'),
    description: z.string().optional(),
    version: z.union([z.string(), z.number()]).optional(),
    input: z.record(z.string().regex(idPattern), inputDeclSchema).default({}).describe('Declared inputs and their defaults.'),
    onFailure: z
      .enum(['compensate', 'keep'])
      .default('compensate')
      .describe('compensate: undo completed steps in reverse order (saga). keep: leave them, so `mcp-orch retry` can reuse them.'),
    defaults: z
      .object({ retry: retrySchema.optional(), timeouts: timeoutsSchema.optional() })
      .strict()
      .default({})
      .describe('Retry and timeouts of every step unless the step overrides them.'),
    steps: z
      .record(stepId, stepSchema)
      .refine((s) => Object.keys(s).length > 0, 'a pipeline needs at least one step')
      .describe('The steps, keyed by id.'),
  })
  .strict();

export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;
export type StepSpec = z.infer<typeof stepSchema>;
export type RetrySpec = z.infer<typeof retrySchema>;
export type TimeoutsSpec = z.infer<typeof timeoutsSchema>;
export type WaitSpec = z.infer<typeof waitSchema>;
export type InputDecl = z.infer<typeof inputDeclSchema>;

/** JSON Schema of the spec, for editors (`npm run schema` writes schema/pipeline.schema.json). */
export function pipelineJsonSchema(): unknown {
  return z.toJSONSchema(pipelineSpecSchema, { io: 'input', unrepresentable: 'any' });
}
