/**
 * The shard file of `rest train`: scored candidates as JSON Lines, one candidate per line, UTF-8.
 *
 * ```json
 * {"source": "ein mann läuft", "hypothesis": "a man runs", "reward": 0.83}
 * {"source": "ein mann läuft", "hypothesis": "a man", "reward": 0.41, "sourceId": "17",
 *  "tokenIds": [57, 88, 1], "behaviourLogProb": -3.2, "tokenLogProbs": [-1.1, -0.9, -1.2]}
 * {"source": "ein mann läuft", "hypothesis": "a man runs", "reward": 1, "isReference": true}
 * ```
 *
 * | field | required | meaning |
 * |---|---|---|
 * | `source` | yes | the source sentence x |
 * | `hypothesis` | yes | the candidate translation y |
 * | `reward` | yes | R(x, y), finite, on the scale the threshold is written in |
 * | `sourceId` | no | groups the candidates of one source (baselines, DPO pairs); default: the source text |
 * | `isReference` | no | the human reference y* (counts for pairs, not for its source's baseline); default false |
 * | `tokenIds` | no | y's ids under the policy's tokenizer, end token included; default: `hypothesis` is encoded |
 * | `behaviourLogProb` | no | Σ_t log π_behaviour(y_t \| ·) of the policy that sampled y |
 * | `tokenLogProbs` | no | per-token behaviour log-probs, one per entry of `tokenIds` |
 *
 * Every candidate counts for the baselines and pairs; those with `reward > threshold` (strictly, as
 * ReST's filter) are trained on. With `behaviourIsReference` (the file's samples were drawn from the
 * reference policy, as in Grow 1), `behaviourLogProb`/`tokenLogProbs` stand in for the reference
 * policy's log-probs.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { InvalidArgumentError, type FieldViolation } from '@rest/service-kit';
import type { ScoredCandidate } from '../improve/data.js';

const LINE = z
  .object({
    source: z.string().min(1),
    hypothesis: z.string(),
    reward: z.number().finite(),
    sourceId: z.string().min(1).optional(),
    isReference: z.boolean().optional(),
    tokenIds: z.array(z.number().int().min(0)).min(1).optional(),
    behaviourLogProb: z.number().finite().max(0).optional(),
    tokenLogProbs: z.array(z.number().finite()).optional(),
  })
  .strict()
  .refine((l) => l.tokenLogProbs === undefined || l.tokenLogProbs.length === l.tokenIds?.length, {
    message: 'tokenLogProbs needs tokenIds of the same length',
    path: ['tokenLogProbs'],
  });

/** One line of a shard file, parsed. */
export type ShardFileLine = z.output<typeof LINE>;

/** Most problems listed in one error. */
const MAX_PROBLEMS = 20;

/** Parses shard-file text; throws InvalidArgumentError naming `<path>:<line>.<field>` for each problem. */
export function parseShardFile(text: string, path = 'shard file'): ShardFileLine[] {
  const problems: FieldViolation[] = [];
  const out: ShardFileLine[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '' || problems.length >= MAX_PROBLEMS) return;
    const at = `${path}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      problems.push({ field: at, problem: `not JSON (${(e as Error).message})` });
      return;
    }
    const parsed = LINE.safeParse(json);
    if (parsed.success) out.push(parsed.data);
    else
      for (const issue of parsed.error.issues) {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
        for (const k of keys)
          problems.push({
            field: [at, ...issue.path.map(String), ...(k === undefined ? [] : [k])].join('.'),
            problem: k === undefined ? issue.message : 'unknown field',
          });
      }
  });
  if (problems.length > 0) throw InvalidArgumentError.fromViolations(problems);
  if (out.length === 0)
    throw InvalidArgumentError.fromViolations([{ field: path, problem: 'holds no candidates' }]);
  return out;
}

/** Options of {@link readShardFile}. */
export interface ShardFileOptions {
  /** Train on candidates with reward > threshold. @default -Infinity (all) */
  readonly threshold?: number;
  /** The behaviour log-probs are the reference policy's. @default false */
  readonly behaviourIsReference?: boolean;
}

/** The candidates of lines as D_i (`train`) and D_g (`all`). */
export function shardCandidates(
  lines: readonly ShardFileLine[],
  o: ShardFileOptions = {},
): { train: ScoredCandidate[]; all: ScoredCandidate[] } {
  const threshold = o.threshold ?? -Infinity;
  const all = lines.map((l, i): ScoredCandidate => ({
    key: String(i),
    sourceId: l.sourceId ?? l.source,
    source: l.source,
    text: l.hypothesis,
    reward: l.reward,
    isReference: l.isReference ?? false,
    ...(l.tokenIds === undefined ? {} : { tokenIds: l.tokenIds }),
    ...(l.behaviourLogProb === undefined ? {} : { behaviourLogProb: l.behaviourLogProb }),
    ...(l.tokenLogProbs === undefined ? {} : { behaviourTokenLogProbs: l.tokenLogProbs }),
    behaviourIsReference: o.behaviourIsReference ?? false,
  }));
  return { train: all.filter((c) => c.reward > threshold), all };
}

/** Reads and parses a shard file. Throws InvalidArgumentError for a malformed file, the fs error otherwise. */
export async function readShardFile(
  path: string,
  o: ShardFileOptions = {},
): Promise<{ train: ScoredCandidate[]; all: ScoredCandidate[] }> {
  return shardCandidates(parseShardFile(await readFile(path, 'utf8'), path), o);
}

/** Serialises candidates as shard-file lines (the inverse of {@link shardCandidates}, for tools and tests). */
export function formatShardFile(lines: readonly ShardFileLine[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}
