/**
 * The platform's services as the k8s tests see them: each Deployment's workspace, image, config
 * schema (the services' own CONFIG objects, so a key renamed there fails here) and extra arguments.
 */
import type { ConfigInputs, ConfigKeyInfo } from '@rest/service-kit';
import { CONFIG as COORDINATOR_CONFIG } from '@rest/coordinator';
import { CONFIG as POLICY_CONFIG } from '@rest/policy-server';
import { CONFIG as REWARD_CONFIG } from '@rest/reward-server';
import { CONFIG as TRAINER_CONFIG } from '@rest/trainer';

/** The gRPC server keys every service has (service-kit's grpcServerConfigShape), resolved. */
export interface GrpcConfig {
  readonly host: string;
  /** gRPC port. */
  readonly port: number;
  /** HTTP port of /metrics and /healthz. */
  readonly metricsPort: number;
  readonly maxConnectionAgeMs: number;
  readonly maxConnectionAgeGraceMs: number;
  readonly drainTimeoutMs: number;
  readonly closeTimeoutMs: number;
}

/** What the tests use of a service's `defineConfig` result. */
export interface ServiceConfig {
  readonly prefix: string;
  readonly keys: readonly ConfigKeyInfo[];
  readonly fileEnvVar: string;
  load(inputs: ConfigInputs): { readonly grpc: GrpcConfig };
}

/** One Deployment of a service image. */
export interface ServiceSpec {
  /** The Deployment (and container) name in k8s/base. */
  readonly deployment: string;
  /** The workspace folder, holding the Dockerfile. */
  readonly workspace: string;
  /** The image name in the manifests (before the overlays' tags). */
  readonly image: string;
  readonly config: ServiceConfig;
  /** Arguments after the image's CMD (the grow worker's role). */
  readonly args: readonly string[];
  /** Whether it runs ONNX models: it gets a GPU in the gpu overlay. */
  readonly onnx: boolean;
  /** Whether it has a HorizontalPodAutoscaler (and so no fixed replica count). */
  readonly autoscaled: boolean;
  /** Whether clients call it over a headless Service. */
  readonly served: boolean;
}

/** Every Deployment of a service image, in k8s/base order. */
export const SERVICES: readonly ServiceSpec[] = [
  {
    deployment: 'policy-server',
    workspace: 'policy-server',
    image: 'rest/policy-server',
    config: POLICY_CONFIG,
    args: [],
    onnx: true,
    autoscaled: true,
    served: true,
  },
  {
    deployment: 'reward-server',
    workspace: 'reward-server',
    image: 'rest/reward-server',
    config: REWARD_CONFIG,
    args: [],
    onnx: true,
    autoscaled: true,
    served: true,
  },
  {
    deployment: 'trainer',
    workspace: 'trainer',
    image: 'rest/trainer',
    config: TRAINER_CONFIG,
    args: [],
    onnx: true,
    autoscaled: false,
    served: true,
  },
  {
    deployment: 'coordinator',
    workspace: 'coordinator',
    image: 'rest/coordinator',
    config: COORDINATOR_CONFIG,
    args: [],
    onnx: false,
    autoscaled: false,
    served: true,
  },
  {
    deployment: 'grow-worker',
    workspace: 'coordinator',
    image: 'rest/coordinator',
    config: COORDINATOR_CONFIG,
    args: ['--role', 'grow-worker'],
    onnx: false,
    autoscaled: false,
    served: false,
  },
];

/** The workspaces that have an image (one Dockerfile each). */
export const IMAGE_WORKSPACES = [...new Set(SERVICES.map((s) => s.workspace))];
