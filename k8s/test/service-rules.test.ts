/**
 * The house rules for the platform's own Deployments, in every overlay, checked against each
 * service's config schema (its CONFIG object): probes on grpc.health.v1 at the configured port,
 * env vars and ConfigMap keys that the schema knows (the config then loads), secrets only from
 * Secrets, a grace period above preStop + drain + close, headless Services, HPAs; and what the gpu
 * and dev overlays promise.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigKeyInfo } from '@rest/service-kit';
import {
  build,
  find,
  OVERLAYS,
  ref,
  type Container,
  type K8sObject,
  type Probe,
  type Rendered,
  type Workload,
} from './render.js';
import { SERVICES, type GrpcConfig, type ServiceSpec } from './services.js';

/** Longest connection age that still moves clients to new pods soon enough after a scale-up. */
const MAX_CONNECTION_AGE_LIMIT_MS = 30 * 60_000;
/** Kubernetes' default when a pod sets no terminationGracePeriodSeconds. */
const DEFAULT_GRACE_S = 30;

/** A container's environment as the service sees it, and where each name came from. */
interface ResolvedEnv {
  readonly env: Record<string, string>;
  /** Env var → `configmap <name>`, `literal` or `secret <name>/<key>`. */
  readonly sources: Map<string, string>;
  readonly problems: string[];
}

function workload(
  rendered: Rendered,
  name: string,
): Workload & { readonly spec: { readonly replicas?: number } } {
  const found = find(rendered.objects, 'Deployment', name);
  assert.ok(found, `Deployment/${name} is rendered`);
  return found as Workload;
}

function container(deployment: Workload, name: string): Container {
  const found = deployment.spec.template.spec.containers.find((c) => c.name === name);
  assert.ok(found, `${ref(deployment)} has a container ${name}`);
  return found;
}

function placeholder(key: ConfigKeyInfo | undefined): string {
  return typeof key?.defaultValue === 'string' && key.defaultValue !== '' ? key.defaultValue : 'from-secret';
}

function resolveEnv(rendered: Rendered, spec: ServiceSpec, c: Container): ResolvedEnv {
  const env: Record<string, string> = {};
  const sources = new Map<string, string>();
  const problems: string[] = [];
  const byEnvVar = new Map(spec.config.keys.map((k) => [k.envVar, k]));
  for (const from of c.envFrom ?? []) {
    if (from.secretRef !== undefined)
      problems.push(`envFrom secretRef ${from.secretRef.name}: name secret keys one by one`);
    if (from.configMapRef === undefined) continue;
    const map = find(rendered.objects, 'ConfigMap', from.configMapRef.name);
    if (map === undefined) {
      problems.push(`envFrom ConfigMap ${from.configMapRef.name} is not rendered`);
      continue;
    }
    for (const [name, value] of Object.entries(map.data ?? {})) {
      env[name] = value;
      sources.set(name, `configmap ${map.metadata.name}`);
    }
  }
  for (const entry of c.env ?? []) {
    const secretRef = entry.valueFrom?.secretKeyRef;
    const mapRef = entry.valueFrom?.configMapKeyRef;
    if (secretRef !== undefined) {
      env[entry.name] = placeholder(byEnvVar.get(entry.name));
      sources.set(entry.name, `secret ${secretRef.name}/${secretRef.key}`);
    } else if (mapRef !== undefined) {
      const value = find(rendered.objects, 'ConfigMap', mapRef.name)?.data?.[mapRef.key];
      if (value === undefined)
        problems.push(`${entry.name}: ConfigMap key ${mapRef.name}/${mapRef.key} is not rendered`);
      env[entry.name] = value ?? '';
      sources.set(entry.name, `configmap ${mapRef.name}`);
    } else if (entry.value !== undefined) {
      env[entry.name] = entry.value;
      sources.set(entry.name, 'literal');
    } else {
      problems.push(`${entry.name}: neither a value nor a ConfigMap/Secret key`);
    }
  }
  return { env, sources, problems };
}

function grpcProbePort(probe: Probe | undefined): number | string {
  if (probe?.grpc === undefined) return 'not a grpc probe';
  if ((probe.grpc.service ?? '') !== '') return `grpc probe of service ${probe.grpc.service}`;
  return probe.grpc.port;
}

function loadConfig(spec: ServiceSpec, env: Record<string, string>): GrpcConfig {
  // argv stays empty: the grow worker's `--role` is the coordinator main's argument, not config.
  return spec.config.load({ env, argv: [] }).grpc;
}

for (const overlay of OVERLAYS) {
  describe(`k8s/overlays/${overlay} services`, () => {
    let rendered: Rendered;
    before(() => {
      rendered = build(overlay);
    });

    for (const spec of SERVICES) {
      const unit = `${overlay} ${spec.deployment}`;

      it(`${unit}: every env var and ConfigMap key is a ${spec.config.prefix} config key, and the config loads`, () => {
        const c = container(workload(rendered, spec.deployment), spec.deployment);
        const { env, sources, problems } = resolveEnv(rendered, spec, c);
        const byEnvVar = new Map(spec.config.keys.map((k) => [k.envVar, k]));
        for (const [name, source] of sources) {
          const key = byEnvVar.get(name);
          if (key === undefined && name !== spec.config.fileEnvVar) {
            problems.push(`${name} (${source}): no ${spec.config.prefix} config key has this env var`);
          } else if (key !== undefined && key.secret !== source.startsWith('secret ')) {
            problems.push(
              `${name} (${source}): ${key.secret ? 'a secret key must come from a Secret' : 'not a secret key, yet from a Secret'}`,
            );
          }
        }
        assert.deepEqual(problems, []);
        assert.doesNotThrow(() => loadConfig(spec, env));
      });

      it(`${unit}: startup, readiness and liveness probes are grpc.health.v1 on the gRPC port`, () => {
        const c = container(workload(rendered, spec.deployment), spec.deployment);
        const config = loadConfig(spec, resolveEnv(rendered, spec, c).env);
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const)
          assert.equal(grpcProbePort(c[probe]), config.port, probe);
        const ports = Object.fromEntries(
          (c.ports ?? []).map((p) => [p.name ?? '', p.containerPort] as const),
        );
        assert.deepEqual(ports, { grpc: config.port, metrics: config.metricsPort });
      });

      it(`${unit}: terminationGracePeriodSeconds is above preStop + drain + close timeouts`, () => {
        const deployment = workload(rendered, spec.deployment);
        const c = container(deployment, spec.deployment);
        const config = loadConfig(spec, resolveEnv(rendered, spec, c).env);
        const preStopMs = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
        const graceMs =
          (deployment.spec.template.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S) * 1000;
        const neededMs = preStopMs + config.drainTimeoutMs + config.closeTimeoutMs;
        assert.ok(
          graceMs > neededMs,
          `grace ${graceMs} ms <= preStop ${preStopMs} + drain ${config.drainTimeoutMs} + close ${config.closeTimeoutMs}`,
        );
      });

      it(`${unit}: runs the ${spec.image} image with its arguments`, () => {
        const c = container(workload(rendered, spec.deployment), spec.deployment);
        assert.match(c.image, new RegExp(`^${spec.image}:`));
        assert.equal(c.command, undefined, 'the image CMD starts the service');
        assert.deepEqual(c.args ?? [], spec.args);
      });

      if (spec.served)
        it(`${unit}: a headless Service with port grpc, and a max connection age so clients rebalance`, () => {
          const deployment = workload(rendered, spec.deployment);
          const config = loadConfig(
            spec,
            resolveEnv(rendered, spec, container(deployment, spec.deployment)).env,
          );
          const service = find(rendered.objects, 'Service', spec.deployment) as
            | (K8sObject & {
                spec: {
                  clusterIP?: string;
                  selector?: Record<string, string>;
                  ports?: {
                    name?: string;
                    port: number;
                    targetPort?: string | number;
                    appProtocol?: string;
                  }[];
                };
              })
            | undefined;
          assert.ok(service, `Service/${spec.deployment}`);
          assert.equal(service.spec.clusterIP, 'None', 'headless, for dns:/// round robin');
          const labels = deployment.spec.template.metadata.labels ?? {};
          assert.ok(
            Object.entries(service.spec.selector ?? {}).every(([k, v]) => labels[k] === v),
            'selects the pods',
          );
          const grpcPort = service.spec.ports?.find((p) => p.name === 'grpc');
          assert.deepEqual(grpcPort, {
            name: 'grpc',
            port: config.port,
            targetPort: 'grpc',
            protocol: 'TCP',
            appProtocol: 'grpc',
          });
          assert.ok(
            config.maxConnectionAgeMs <= MAX_CONNECTION_AGE_LIMIT_MS,
            `maxConnectionAgeMs ${config.maxConnectionAgeMs}`,
          );
        });

      it(`${unit}: ${spec.autoscaled ? 'an HPA owns the replica count' : 'a fixed replica count, no HPA'}`, () => {
        const deployment = workload(rendered, spec.deployment);
        const hpa = rendered.objects.find(
          (o) =>
            o.kind === 'HorizontalPodAutoscaler' &&
            (o.spec as { scaleTargetRef?: { name?: string } }).scaleTargetRef?.name === spec.deployment,
        ) as (K8sObject & { spec: { minReplicas?: number; maxReplicas: number } }) | undefined;
        if (spec.autoscaled) {
          assert.ok(hpa, `an HPA targets Deployment/${spec.deployment}`);
          assert.equal(deployment.spec.replicas, undefined, 'no spec.replicas for kubectl apply to reset');
          assert.ok((hpa.spec.minReplicas ?? 1) <= hpa.spec.maxReplicas);
        } else {
          assert.equal(hpa, undefined);
          assert.ok((deployment.spec.replicas ?? 1) >= 1);
        }
      });
    }
  });
}

describe('k8s/overlays/gpu services', () => {
  let gpu: Rendered;
  before(() => {
    gpu = build('gpu');
  });

  for (const spec of SERVICES) {
    it(`gpu ${spec.deployment}: ${spec.onnx ? 'one nvidia.com/gpu, the cuda12 image, GPU nodes' : 'no GPU'}`, () => {
      const deployment = workload(gpu, spec.deployment);
      const c = container(deployment, spec.deployment);
      const pod = deployment.spec.template.spec;
      if (!spec.onnx) {
        assert.equal(c.resources?.limits?.['nvidia.com/gpu'], undefined);
        return;
      }
      assert.equal(c.resources?.limits?.['nvidia.com/gpu'], '1');
      assert.match(c.image, /-cuda12$/);
      assert.ok(Object.keys(pod.nodeSelector ?? {}).length > 0, 'a nodeSelector');
      assert.ok(
        (pod.tolerations ?? []).some((t) => t.key === 'nvidia.com/gpu'),
        'tolerates nvidia.com/gpu',
      );
    });

    if (!spec.onnx) continue;
    const providerKey = spec.config.keys.find((k) => k.path[k.path.length - 1] === 'executionProvider');
    if (providerKey === undefined) {
      it(`gpu ${spec.deployment}: the config selects the cuda execution provider`, {
        todo: `${spec.config.prefix} config has no executionProvider key yet`,
      });
      continue;
    }
    it(`gpu ${spec.deployment}: the config selects the cuda execution provider (${providerKey.envVar})`, () => {
      const c = container(workload(gpu, spec.deployment), spec.deployment);
      const { env } = resolveEnv(gpu, spec, c);
      assert.equal(env[providerKey.envVar], 'cuda', `set ${providerKey.envVar}=cuda in k8s/components/gpu`);
    });
  }
});

describe('k8s/overlays/dev sizes', () => {
  it('dev: one replica of everything, and small requests', () => {
    const dev = build('dev');
    const problems: string[] = [];
    for (const object of dev.objects) {
      const spec = object.spec as { replicas?: number; maxReplicas?: number } | undefined;
      if ((object.kind === 'Deployment' || object.kind === 'StatefulSet') && (spec?.replicas ?? 1) !== 1)
        problems.push(`${ref(object)}: ${spec?.replicas} replicas`);
      if (object.kind === 'HorizontalPodAutoscaler' && spec?.maxReplicas !== 1)
        problems.push(`${ref(object)}: maxReplicas ${spec?.maxReplicas}`);
      if (object.kind !== 'Deployment' && object.kind !== 'StatefulSet') continue;
      for (const c of (object as Workload).spec.template.spec.containers) {
        const cpu = String(c.resources?.requests?.['cpu'] ?? '');
        if (!/^\d{1,3}m$/.test(cpu) || Number.parseInt(cpu, 10) > 100)
          problems.push(`${ref(object)}: requests cpu ${cpu}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
