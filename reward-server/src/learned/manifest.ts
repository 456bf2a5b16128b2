/**
 * `reward.json`: the manifest that describes a learned reward model's folder, so that any
 * cross-encoder regression model exported to ONNX can be served without code changes. The format
 * (see the README's "Manifest" section for a full example):
 *
 *   formatVersion  1
 *   name           the name requests use (lower case, digits, `.`, `_`, `+`, `-`)
 *   version        optional; the bundle id or a release tag (default: `sha256:<first 12 hex>` of the ONNX file)
 *   description    one line
 *   kind           "cross-encoder-regression": one forward pass over the tokenized pair
 *   onnx           the ONNX file, relative to the folder
 *   tokenizer      the `tokenizer.json`, relative to the folder; `tokenizer_config.json` sits beside it
 *   inputs         the graph's inputs IN THE GRAPH'S ORDER, each `{ name, role }` with role
 *                  `input_ids` | `attention_mask` | `token_type_ids` (all `[B, S] i64`)
 *   output         the graph's one output, `[B]` or `[B, 1]` f32: the raw score
 *   maxLength      most tokens of one pair, template tokens included
 *   pairing        `{ template, truncation }`: template entries are `{source}`, `{hypothesis}`,
 *                  `{reference}` (text slots) or a token of the vocabulary (e.g. `</s>`, `[SEP]`);
 *                  truncation `none` (an over-long pair is refused) or `longest_first`
 *   predicts       the metric the model was trained to predict (e.g. `chrf`), informational
 *   higherIsBetter whether a larger raw score is better (default true)
 *   range          `{ min, max }`: the raw range CLIPPED_01 maps onto [0, 1]
 *   calibration    `{ mean, std }`, or `{ file }`: a calibration TSV scored with the model at load
 *
 * Parsing is pure: paths are checked to stay inside the folder but not opened here.
 */
import { isAbsolute, normalize, sep } from 'node:path';
import { z } from 'zod';

/** The manifest's file name inside a model folder. */
export const MANIFEST_FILE = 'reward.json';

/** The text slots a pairing template may hold. */
export const TEMPLATE_SLOTS = {
  '{source}': 'source',
  '{hypothesis}': 'hypothesis',
  '{reference}': 'reference',
} as const;

/** Model and metric names: what a request's `model` field may hold. */
export const MODEL_NAME_PATTERN = /^[a-z0-9][a-z0-9._+-]{0,63}$/;

/** What a graph input carries. */
export const INPUT_ROLES = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
/** One of {@link INPUT_ROLES}. */
export type InputRole = (typeof INPUT_ROLES)[number];

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && !normalize(p).split(sep).includes('..'), {
    message: 'must be a relative path inside the model folder',
  });

const schema = z
  .object({
    formatVersion: z.literal(1),
    name: z.string().regex(MODEL_NAME_PATTERN, 'must match [a-z0-9][a-z0-9._+-]{0,63}'),
    version: z.string().min(1).optional(),
    description: z.string().default(''),
    kind: z.literal('cross-encoder-regression'),
    onnx: relativePath,
    tokenizer: relativePath.refine((p) => p.endsWith('tokenizer.json'), {
      message: 'must name a tokenizer.json (tokenizer_config.json beside it)',
    }),
    inputs: z
      .array(z.object({ name: z.string().min(1), role: z.enum(INPUT_ROLES) }).strict())
      .min(2)
      .max(3)
      .refine((inputs) => new Set(inputs.map((i) => i.role)).size === inputs.length, {
        message: 'each role at most once',
      })
      .refine((inputs) => new Set(inputs.map((i) => i.name)).size === inputs.length, {
        message: 'each name at most once',
      })
      .refine(
        (inputs) =>
          inputs.some((i) => i.role === 'input_ids') && inputs.some((i) => i.role === 'attention_mask'),
        {
          message: 'needs an input_ids and an attention_mask input',
        },
      ),
    output: z.string().min(1),
    maxLength: z.number().int().min(2).max(65_536),
    pairing: z
      .object({
        template: z
          .array(z.string().min(1))
          .min(2)
          .refine((t) => t.includes('{source}') && t.includes('{hypothesis}'), {
            message: 'must hold {source} and {hypothesis}',
          })
          .refine(
            (t) => Object.keys(TEMPLATE_SLOTS).every((slot) => t.filter((e) => e === slot).length <= 1),
            {
              message: 'each text slot at most once',
            },
          )
          .refine((t) => t.every((e) => e in TEMPLATE_SLOTS || !/^\{.*\}$/.test(e)), {
            message: 'text slots are {source}, {hypothesis} and {reference}',
          }),
        truncation: z.enum(['none', 'longest_first']).default('none'),
      })
      .strict(),
    predicts: z.string().default(''),
    higherIsBetter: z.boolean().default(true),
    range: z
      .object({ min: z.number(), max: z.number() })
      .strict()
      .refine((r) => r.min < r.max, { message: 'min must be below max' }),
    calibration: z.union([
      z.object({ mean: z.number(), std: z.number().positive() }).strict(),
      z.object({ file: relativePath }).strict(),
    ]),
  })
  .strict();

/** A parsed, checked `reward.json`. */
export type RewardManifest = z.output<typeof schema>;

/** A model folder that cannot be loaded: a bad manifest, a missing file, a model that differs from it. */
export class RewardModelError extends Error {
  override name = 'RewardModelError';
}

/**
 * Parses a manifest document.
 * @param where the manifest's path, for messages
 * @throws RewardModelError listing every problem with its JSON path, e.g.
 *   `/models/qe/reward.json: inputs[1].role: Invalid option: ...`
 */
export function parseManifest(document: unknown, where: string): RewardManifest {
  const result = schema.safeParse(document);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
      .join('');
    return `${path === '' ? '(document)' : path}: ${issue.message}`;
  });
  throw new RewardModelError(`${where}: ${problems.join('; ')}`);
}
