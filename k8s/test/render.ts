/**
 * What the k8s tests share: the overlays and tools (kustomize from the tools dir, kubernetes-validate
 * and hadolint from its Python venv, all installed by scripts/install-deps.sh and
 * scripts/install-python-peers.sh), `kustomize build` parsed into objects, and typed views of the
 * few object fields the house rules read. It checks nothing itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BinaryNotFoundError, findBinary, toolsBinDir } from '@rest/testkit';

/** The repository root. */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');
/** k8s/ in the repository. */
export const K8S_DIR = join(REPO_ROOT, 'k8s');
/** Every overlay under k8s/overlays; each must build and pass every rule. */
export const OVERLAYS = ['cpu', 'gpu', 'dev', 'external-mongo'] as const;
export type Overlay = (typeof OVERLAYS)[number];
/** The Kubernetes version whose OpenAPI schemas the objects are validated against (the README says so). */
export const KUBERNETES_VERSION = '1.33.0';
/** The namespace every namespaced object is in. */
export const NAMESPACE = 'rest';

/** Path of kustomize: `REST_KUSTOMIZE_BIN`, else the tools dir, else PATH. @throws BinaryNotFoundError */
export function kustomizeBin(): string {
  return findBinary('kustomize', 'REST_KUSTOMIZE_BIN');
}

/**
 * Path of a console script in the tools venv (scripts/install-python-peers.sh).
 * @throws BinaryNotFoundError naming the install script when it is missing
 */
export function venvBin(name: 'kubernetes-validate' | 'hadolint'): string {
  const path = join(dirname(toolsBinDir()), 'venv', 'bin', name);
  if (!existsSync(path))
    throw new BinaryNotFoundError(`${path} not found; run scripts/install-python-peers.sh`);
  return path;
}

/** `metadata` as the rules read it. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Any rendered object. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly spec?: unknown;
  readonly data?: Readonly<Record<string, string>>;
}

/** A probe; gRPC probes name only a port (and optionally a health service). */
export interface Probe {
  readonly grpc?: { readonly port: number; readonly service?: string };
  readonly httpGet?: unknown;
  readonly tcpSocket?: unknown;
  readonly exec?: unknown;
}

/** An env entry, literal or from a ConfigMap/Secret key. */
export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
    readonly configMapKeyRef?: { readonly name: string; readonly key: string };
    readonly fieldRef?: unknown;
  };
}

/** A container's fields the rules read. */
export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly command?: readonly string[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly {
    readonly configMapRef?: { readonly name: string };
    readonly secretRef?: { readonly name: string };
  }[];
  readonly startupProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly lifecycle?: { readonly preStop?: { readonly sleep?: { readonly seconds: number } } };
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
  };
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

/** Pod- or container-level security settings. */
export interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly allowPrivilegeEscalation?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[] };
  readonly seccompProfile?: { readonly type: string };
}

/** A pod template's spec. */
export interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly securityContext?: SecurityContext;
  readonly terminationGracePeriodSeconds?: number;
  readonly enableServiceLinks?: boolean;
  readonly automountServiceAccountToken?: boolean;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: readonly { readonly key?: string }[];
  readonly volumes?: readonly { readonly name: string; readonly emptyDir?: unknown }[];
}

/** A Deployment, StatefulSet or Job: something that runs pods from a template. */
export interface Workload extends K8sObject {
  readonly spec: {
    readonly replicas?: number;
    readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly template: {
      readonly metadata: { readonly labels?: Readonly<Record<string, string>> };
      readonly spec: PodSpec;
    };
  };
}

/** The kinds that run pods from a template. */
export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

/** Whether an object runs pods from a template. */
export function isWorkload(object: K8sObject): object is Workload {
  return WORKLOAD_KINDS.has(object.kind);
}

/** One overlay, built. */
export interface Rendered {
  readonly overlay: Overlay;
  /** kustomize's output, multi-document YAML. */
  readonly yaml: string;
  readonly objects: readonly K8sObject[];
}

/**
 * Runs `kustomize build k8s/overlays/<overlay>` and parses every document.
 * @throws Error with kustomize's stderr when the build fails, or on a YAML error
 */
export function build(overlay: Overlay): Rendered {
  const yaml = execFileSync(kustomizeBin(), ['build', join(K8S_DIR, 'overlays', overlay)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const objects = parseAllDocuments(yaml).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${overlay}: ${doc.errors.map(String).join('; ')}`);
    return doc.toJS() as K8sObject;
  });
  return { overlay, yaml, objects };
}

/** `Kind/name` of an object, for messages. */
export function ref(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/** The object of a kind and name (as rendered: generated names carry kustomize's hash suffix). */
export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}
