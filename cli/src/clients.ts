/**
 * How the client commands (`run`, `status`, `watch`, `translate`, `score`) find and call the
 * platform's gRPC servers: an address from the command's flag, else from `REST_COORDINATOR` /
 * `REST_POLICY_SERVER` / `REST_REWARD_SERVER`, else the service's default port on 127.0.0.1; then a
 * grpc-js client of @rest/proto with a deadline on every call, and failures turned into messages
 * that name the server, its address and how to point the command elsewhere.
 */
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from 'commander';
import { coordinator, policy, reward } from '@rest/proto';

/** The servers a client command may call, with where their addresses come from. */
export const SERVERS = {
  coordinator: { label: 'coordinator', flag: '--coordinator', env: 'REST_COORDINATOR', port: 50054 },
  policy: { label: 'policy server', flag: '--policy-server', env: 'REST_POLICY_SERVER', port: 50051 },
  reward: { label: 'reward server', flag: '--reward-server', env: 'REST_REWARD_SERVER', port: 50052 },
} as const;
/** One of {@link SERVERS}. */
export type ServerName = keyof typeof SERVERS;

/** A resolved server address and where it came from (for error messages). */
export interface Target {
  readonly server: ServerName;
  /** `host:port`. */
  readonly address: string;
  readonly source: 'flag' | 'env' | 'default';
}

/**
 * The address of `server`: `flag` when given, else its environment variable, else
 * `127.0.0.1:<default port>`.
 */
export function resolveTarget(
  server: ServerName,
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Target {
  const s = SERVERS[server];
  if (flag !== undefined && flag.trim() !== '') return { server, address: flag.trim(), source: 'flag' };
  const fromEnv = env[s.env]?.trim();
  if (fromEnv !== undefined && fromEnv !== '') return { server, address: fromEnv, source: 'env' };
  return { server, address: `127.0.0.1:${s.port}`, source: 'default' };
}

/** Where an address came from and how to change it, for messages. */
function howToSet(target: Target): string {
  const s = SERVERS[target.server];
  const from =
    target.source === 'flag' ? `from ${s.flag}` : target.source === 'env' ? `from ${s.env}` : 'the default';
  return `${from}; pass ${s.flag} <host:port> or set ${s.env}`;
}

/** A failed call, with a message for people; `code` is the gRPC status. */
export class ServerCallError extends Error {
  constructor(
    message: string,
    readonly code: grpc.status,
  ) {
    super(message);
    this.name = 'ServerCallError';
  }
}

/** Turns a grpc-js error into a {@link ServerCallError} naming the server and its address. */
export function callError(target: Target, error: grpc.ServiceError): ServerCallError {
  const s = SERVERS[target.server];
  const details = error.details.replace(/[.\s]*Resolution note:\s*$/, '');
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
      return new ServerCallError(
        `cannot reach the ${s.label} at ${target.address} (${howToSet(target)}): ${details}`,
        error.code,
      );
    case grpc.status.DEADLINE_EXCEEDED:
      return new ServerCallError(
        `the ${s.label} at ${target.address} did not answer in time (${details})`,
        error.code,
      );
    default:
      return new ServerCallError(
        `${s.label} at ${target.address}: ${grpc.status[error.code] ?? error.code}: ${details}`,
        error.code,
      );
  }
}

/** The request and response types of a generated unary method (its last, 4-argument overload). */
type UnaryOf<F> = F extends (
  request: infer Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: infer Res) => void,
) => grpc.ClientUnaryCall
  ? { request: Req; response: Res }
  : never;

/** Default deadline of one unary call, in ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/** A generated client bound to its target, with promise-returning unary calls. */
export class ServiceClient<C extends grpc.Client> {
  constructor(
    readonly target: Target,
    readonly client: C,
  ) {}

  /**
   * Calls a unary method with a deadline.
   * @throws ServerCallError on any non-OK status
   */
  call<K extends keyof C & string>(
    method: K,
    request: UnaryOf<C[K]>['request'],
    timeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
  ): Promise<UnaryOf<C[K]>['response']> {
    type Res = UnaryOf<C[K]>['response'];
    const fn = this.client[method] as (
      request: unknown,
      metadata: grpc.Metadata,
      options: Partial<grpc.CallOptions>,
      callback: (error: grpc.ServiceError | null, response: Res) => void,
    ) => grpc.ClientUnaryCall;
    return new Promise((resolve, reject) => {
      fn.call(
        this.client,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => (error === null ? resolve(response) : reject(callError(this.target, error))),
      );
    });
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}

const INSECURE = grpc.credentials.createInsecure();

/** A CoordinatorService client for `flag` / `REST_COORDINATOR` / 127.0.0.1:50054. */
export function coordinatorClient(flag?: string): ServiceClient<coordinator.CoordinatorServiceClient> {
  const target = resolveTarget('coordinator', flag);
  return new ServiceClient(target, new coordinator.CoordinatorServiceClient(target.address, INSECURE));
}

/** A PolicyService client for `flag` / `REST_POLICY_SERVER` / 127.0.0.1:50051. */
export function policyClient(flag?: string): ServiceClient<policy.PolicyServiceClient> {
  const target = resolveTarget('policy', flag);
  return new ServiceClient(target, new policy.PolicyServiceClient(target.address, INSECURE));
}

/** A RewardService client for `flag` / `REST_REWARD_SERVER` / 127.0.0.1:50052. */
export function rewardClient(flag?: string): ServiceClient<reward.RewardServiceClient> {
  const target = resolveTarget('reward', flag);
  return new ServiceClient(target, new reward.RewardServiceClient(target.address, INSECURE));
}

/** Reads stdin to its end as UTF-8 lines (a trailing newline adds no empty line). */
export async function readStdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Parses a numeric flag for commander. @throws InvalidArgumentError (commander's) for a non-number */
export function numberFlag(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
}
