import { z } from 'zod';

/** Model names appear in URL paths: lower-case letters, digits, `.`, `_`, `-`. */
export const modelNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/,
    'must be 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit',
  )
  .describe('Model name, e.g. "recommender"; appears in URL paths.');

export const versionSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/,
    'must be 1-64 characters of letters, digits, ".", "_", "+" or "-"',
  )
  .describe('Version label, e.g. "2.1" or a model id; (name, version) identifies a deployment.');

/** Body of `POST /v1/models`. */
export const deployRequestSchema = z
  .object({
    name: modelNameSchema,
    version: versionSchema,
    model_uri: z
      .string()
      .startsWith('storage://', 'must be a storage://<key> URI')
      .describe('Plaintext ONNX object in the storage server.'),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
      .optional()
      .describe('Expected SHA-256 of the ONNX bytes; the deploy is refused when the object differs.'),
    metadata: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Free-form facts kept with the deployment (metrics, training date).'),
    encrypted: z
      .boolean()
      .optional()
      .describe(
        'Must be false or absent: the plaintext ONNX object is deployed; the encrypted copy is for archive.',
      ),
  })
  .strict();
export type DeployRequest = z.infer<typeof deployRequestSchema>;

const rowIndex = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Body of `POST /v1/models/:name/predict`. */
export const predictRequestSchema = z
  .object({
    customer_index: rowIndex.optional().describe('Row of the user embedding to score (alias of user_index).'),
    user_index: rowIndex.optional().describe('Row of the user embedding to score.'),
    k: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('How many top items to return; default 10, capped by the service.'),
    version: versionSchema.optional().describe('Score with this deployed version instead of the active one.'),
  })
  .strict();
export type PredictRequest = z.infer<typeof predictRequestSchema>;
