/**
 * The workers' gRPC clients: PolicyService (Generate, ScoreSequences) and RewardService (Score),
 * as promise-returning calls with a deadline each, retried on UNAVAILABLE (service-kit's one retry
 * policy). Every call the workers make is idempotent: Generate carries an explicit seed (or decodes
 * deterministically) and scoring has no side effects. A call in flight is cancelled when the
 * worker's abort signal fires (shutdown past its grace period).
 *
 * `candidatesBySource` checks the shape of a Generate answer before anything is stored from it.
 *
 * A `dns:///host:port` target is balanced round robin over every address the name resolves to
 * (a headless Service's replicas, DESIGN.md "Local and scale"); a plain `host:port` uses one.
 */
import {
  credentials,
  Metadata,
  type CallOptions,
  type ChannelOptions,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { policy, reward } from '@rest/proto';
import { CancelledError, InternalError, withRetry } from '@rest/service-kit';

/** Where the services are and how long a call may take. */
export interface RpcClientOptions {
  /** PolicyService target, `host:port` or `dns:///host:port`. */
  readonly policyServer: string;
  /** RewardService target, `host:port` or `dns:///host:port`. */
  readonly rewardServer: string;
  /** Deadline of one call, in ms (retries included). */
  readonly rpcTimeoutMs: number;
}

/** The calls the workers make; each rejects with the call's `ServiceError` (its `code` is the status). */
export interface WorkerRpc {
  generate(request: policy.GenerateRequest, signal: AbortSignal): Promise<policy.GenerateResponse>;
  scoreSequences(
    request: policy.ScoreSequencesRequest,
    signal: AbortSignal,
  ): Promise<policy.ScoreSequencesResponse>;
  score(request: reward.ScoreRequest, signal: AbortSignal): Promise<reward.ScoreResponse>;
  /** Closes both channels; calls after this fail. */
  close(): void;
}

/** Responses can hold sources × N candidates with their token log-probs: more than grpc-js' 4 MiB default. */
const MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024;

function channelOptions(target: string): ChannelOptions {
  return {
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
    ...(target.startsWith('dns:')
      ? { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) }
      : {}),
  };
}

/** A started unary call (a generated client method, bound to its client). */
type StartCall<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Opens the two channels (lazily connected by grpc-js) and returns the calls over them. */
export function createWorkerRpc(o: RpcClientOptions): WorkerRpc {
  const policies = new policy.PolicyServiceClient(
    o.policyServer,
    credentials.createInsecure(),
    channelOptions(o.policyServer),
  );
  const rewards = new reward.RewardServiceClient(
    o.rewardServer,
    credentials.createInsecure(),
    channelOptions(o.rewardServer),
  );

  const unary = <Req, Res>(start: StartCall<Req, Res>, request: Req, signal: AbortSignal): Promise<Res> => {
    const deadline = new Date(Date.now() + o.rpcTimeoutMs);
    const attempt = (): Promise<Res> =>
      new Promise<Res>((resolve, reject) => {
        if (signal.aborted) {
          reject(new CancelledError('worker stopping', { cause: signal.reason }));
          return;
        }
        const call = start(request, new Metadata(), { deadline }, (err, res) => {
          signal.removeEventListener('abort', cancel);
          if (err === null) resolve(res);
          else reject(err);
        });
        function cancel(): void {
          call.cancel();
        }
        signal.addEventListener('abort', cancel, { once: true });
      });
    return withRetry(attempt, { idempotent: true, parent: { deadline }, signal });
  };

  return {
    generate: (request, signal) =>
      unary<policy.GenerateRequest, policy.GenerateResponse>(
        (req, md, opts, cb) => policies.generate(req, md, opts, cb),
        request,
        signal,
      ),
    scoreSequences: (request, signal) =>
      unary<policy.ScoreSequencesRequest, policy.ScoreSequencesResponse>(
        (req, md, opts, cb) => policies.scoreSequences(req, md, opts, cb),
        request,
        signal,
      ),
    score: (request, signal) =>
      unary<reward.ScoreRequest, reward.ScoreResponse>(
        (req, md, opts, cb) => rewards.score(req, md, opts, cb),
        request,
        signal,
      ),
    close() {
      policies.close();
      rewards.close();
    },
  };
}

/**
 * Puts a Generate answer in request order and checks its shape.
 * @throws InternalError when it does not hold exactly `n` candidates for each of `numSources` sources.
 */
export function candidatesBySource(
  res: policy.GenerateResponse,
  numSources: number,
  n: number,
): policy.Candidate[][] {
  const out = Array.from<policy.Candidate[] | undefined>({ length: numSources });
  for (const r of res.results) {
    if (r.sourceIndex >= numSources || out[r.sourceIndex] !== undefined || r.candidates.length !== n) {
      throw new InternalError(
        `Generate answered source_index ${r.sourceIndex} with ${r.candidates.length} candidates (expected ${n} for each of ${numSources} sources, once)`,
      );
    }
    out[r.sourceIndex] = r.candidates;
  }
  if (out.some((c) => c === undefined)) {
    throw new InternalError(`Generate answered ${res.results.length} of ${numSources} sources`);
  }
  return out as policy.Candidate[][];
}
