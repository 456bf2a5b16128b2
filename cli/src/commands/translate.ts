/**
 * `rest translate [text...]`: PolicyService.Translate on the given texts, or on the lines of stdin,
 * printing one translation per line (empty input lines stay empty and are not sent). `--json` prints
 * one JSON object per source instead: the source, the translation, its log-probability and the
 * policy (and route variant) that served it.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { common } from '@rest/proto';
import { numberFlag, policyClient, readStdinLines } from '../clients.js';

/** The flags as commander hands them over. */
export interface TranslateFlags {
  readonly policy?: string;
  readonly route?: string;
  readonly requestKey?: string;
  readonly strategy?: string;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly numBeams?: number;
  readonly lengthPenalty?: number;
  readonly maxNewTokens?: number;
  readonly seed?: bigint;
  readonly batchSize: number;
  readonly timeout: number;
  readonly json: boolean;
  readonly policyServer?: string;
}

const STRATEGIES: Readonly<Record<string, common.DecodingStrategy>> = {
  greedy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY,
  sample: common.DecodingStrategy.DECODING_STRATEGY_SAMPLE,
  beam: common.DecodingStrategy.DECODING_STRATEGY_BEAM,
};

function seedFlag(value: string): bigint {
  if (!/^\d{1,20}$/.test(value)) throw new InvalidArgumentError('not a non-negative integer');
  return BigInt(value);
}

/** The PolicyRef of `--policy` / `--route`; undefined (the server's default route) for neither. */
export function policyRef(flags: { policy?: string; route?: string }): common.PolicyRef | undefined {
  if (flags.policy !== undefined && flags.route !== undefined)
    throw new Error('--policy and --route name the serving policy two ways: give one');
  if (flags.policy !== undefined) return { ref: { $case: 'policyId', policyId: flags.policy } };
  if (flags.route !== undefined) return { ref: { $case: 'route', route: flags.route } };
  return undefined;
}

/** The decoding override of the flags; undefined (the policy's own decoding) when none is given. */
export function decodingOf(flags: TranslateFlags): common.DecodingParams | undefined {
  const given = [
    flags.strategy,
    flags.temperature,
    flags.topK,
    flags.topP,
    flags.numBeams,
    flags.lengthPenalty,
    flags.maxNewTokens,
    flags.seed,
  ].some((x) => x !== undefined);
  if (!given) return undefined;
  let strategy: common.DecodingStrategy = common.DecodingStrategy.DECODING_STRATEGY_UNSPECIFIED;
  if (flags.strategy !== undefined) {
    const s = STRATEGIES[flags.strategy.toLowerCase()];
    if (s === undefined)
      throw new Error(`--strategy: must be greedy, sample or beam (got ${flags.strategy})`);
    strategy = s;
  }
  return {
    strategy,
    temperature: flags.temperature ?? 0,
    topK: flags.topK ?? 0,
    topP: flags.topP ?? 0,
    seed: flags.seed,
    maxNewTokens: flags.maxNewTokens ?? 0,
    numBeams: flags.numBeams ?? 0,
    lengthPenalty: flags.lengthPenalty,
    numReturnSequences: 0,
  };
}

/** Translates `texts` in batches; empty texts come back empty. */
export async function translateCommand(texts: readonly string[], flags: TranslateFlags): Promise<void> {
  const ref = policyRef(flags);
  const decoding = decodingOf(flags);
  const batchSize = Math.max(1, Math.floor(flags.batchSize));
  const client = policyClient(flags.policyServer);
  try {
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = texts.slice(start, start + batchSize);
      const sources = batch.filter((t) => t.trim() !== '');
      const response =
        sources.length === 0
          ? undefined
          : await client.call(
              'translate',
              { policy: ref, sources, requestKey: flags.requestKey ?? '', decoding },
              flags.timeout * 1000,
            );
      let next = 0;
      const out: string[] = [];
      for (const source of batch) {
        if (source.trim() === '') {
          out.push(flags.json ? JSON.stringify({ source, text: '' }) : '');
          continue;
        }
        const t = response?.translations[next++];
        if (t === undefined) throw new Error('the policy server answered fewer translations than sources');
        out.push(
          flags.json
            ? JSON.stringify({
                source,
                text: t.text,
                sequenceLogprob: t.sequenceLogprob,
                servedBy:
                  response?.servedBy === undefined ? undefined : common.ServedBy.toJSON(response.servedBy),
              })
            : t.text,
        );
      }
      process.stdout.write(`${out.join('\n')}\n`);
    }
  } finally {
    client.close();
  }
}

/** Registers `rest translate`. */
export function addTranslateCommand(program: Command): void {
  program
    .command('translate')
    .description(
      'translate the given texts, or the lines of stdin, with PolicyService.Translate; one translation per line',
    )
    .argument('[text...]', 'texts to translate (default: the lines of stdin)')
    .option('--policy <id>', 'the policy to translate with (default: the server’s default route)')
    .option('--route <alias>', 'a route whose A/B variants choose the policy')
    .option('--request-key <key>', 'sticky A/B assignment key (same key, same variant)')
    .option('--strategy <name>', 'greedy, sample or beam (default: the policy’s own decoding)')
    .option('--num-beams <n>', 'beam width (beam)', numberFlag)
    .option('--length-penalty <x>', 'beam ranking: log-prob / length^x (beam)', numberFlag)
    .option('--temperature <t>', 'softmax temperature (sample)', numberFlag)
    .option('--top-k <k>', 'keep the k most probable tokens (sample)', numberFlag)
    .option('--top-p <p>', 'nucleus mass in (0, 1] (sample)', numberFlag)
    .option('--seed <n>', 'sampler seed, for a replayable sample', seedFlag)
    .option('--max-new-tokens <n>', 'most generated tokens, EOS included', numberFlag)
    .option('--batch-size <n>', 'sources per request', numberFlag, 32)
    .option('--timeout <s>', 'deadline of each request, in seconds', numberFlag, 120)
    .option('--json', 'one JSON object per source (text, sequenceLogprob, servedBy)', false)
    .option(
      '--policy-server <host:port>',
      'PolicyService address (else REST_POLICY_SERVER, else 127.0.0.1:50051)',
    )
    .action(async (texts: string[], flags: TranslateFlags) => {
      if (texts.length === 0 && process.stdin.isTTY === true)
        throw new Error('give texts to translate, or pipe lines on stdin');
      await translateCommand(texts.length > 0 ? texts : await readStdinLines(), flags);
    });
}
