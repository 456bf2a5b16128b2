/**
 * Every overlay builds with kustomize, every object validates offline against the OpenAPI schemas of
 * a pinned Kubernetes version (kubernetes-validate, strict: unknown fields fail), and every workload
 * follows the house rules of STYLE.md §8 that hold for any pod: labels, requests and limits, non-root
 * with no privilege escalation on a read-only root filesystem, pinned images, a PodDisruptionBudget.
 * The rules specific to the platform's services are in service-rules.test.ts.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  build,
  isWorkload,
  KUBERNETES_VERSION,
  NAMESPACE,
  OVERLAYS,
  ref,
  venvBin,
  type Container,
  type K8sObject,
  type Rendered,
  type Workload,
} from './render.js';

/** Labels every object carries (recommended labels: kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */
const OBJECT_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/version',
] as const;
/** Labels every workload and pod template carries besides those. */
const WORKLOAD_LABELS = [...OBJECT_LABELS, 'app.kubernetes.io/component'] as const;
const CLUSTER_SCOPED = new Set(['Namespace']);

function containersOf(workload: Workload): Container[] {
  return [...(workload.spec.template.spec.initContainers ?? []), ...workload.spec.template.spec.containers];
}

function workloads(rendered: Rendered): Workload[] {
  return rendered.objects.filter(isWorkload);
}

function missingLabels(
  labels: Readonly<Record<string, string>> | undefined,
  wanted: readonly string[],
): string[] {
  return wanted.filter((label) => (labels?.[label] ?? '') === '');
}

function selects(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

for (const overlay of OVERLAYS) {
  describe(`k8s/overlays/${overlay}`, () => {
    let rendered: Rendered;
    before(() => {
      rendered = build(overlay);
    });

    it(`kustomize build ${overlay}: renders the five services, NATS and the namespace`, () => {
      const deployments = rendered.objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
      assert.deepEqual(deployments.sort(), [
        'coordinator',
        'grow-worker',
        'policy-server',
        'reward-server',
        'trainer',
      ]);
      assert.ok(rendered.objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats'));
      assert.ok(rendered.objects.some((o) => o.kind === 'Namespace' && o.metadata.name === NAMESPACE));
      const mongo = rendered.objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === 'mongodb');
      assert.equal(mongo, overlay !== 'external-mongo', 'MongoDB in the cluster except in external-mongo');
    });

    it(`kubernetes-validate ${overlay}: every object is valid for Kubernetes ${KUBERNETES_VERSION} (strict)`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'rest-k8s-'));
      try {
        const file = join(dir, `${overlay}.yaml`);
        writeFileSync(file, rendered.yaml);
        const args = ['--kubernetes-version', KUBERNETES_VERSION, '--strict', '--quiet', file];
        try {
          execFileSync(venvBin('kubernetes-validate'), args, { encoding: 'utf8', stdio: 'pipe' });
        } catch (error) {
          const { stdout, stderr } = error as { stdout?: string; stderr?: string };
          assert.fail(`kubernetes-validate found problems:\n${stdout ?? ''}${stderr ?? ''}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`namespace ${overlay}: every namespaced object is in ${NAMESPACE}`, () => {
      const stray = rendered.objects
        .filter((o) => !CLUSTER_SCOPED.has(o.kind) && o.metadata.namespace !== NAMESPACE)
        .map(ref);
      assert.deepEqual(stray, []);
    });

    it(`labels ${overlay}: every object has app.kubernetes.io/* labels; workloads and pods a component too`, () => {
      const problems: string[] = [];
      for (const object of rendered.objects) {
        const missing = missingLabels(object.metadata.labels, OBJECT_LABELS);
        if (missing.length > 0) problems.push(`${ref(object)}: ${missing.join(', ')}`);
      }
      for (const workload of workloads(rendered)) {
        const onObject = missingLabels(workload.metadata.labels, WORKLOAD_LABELS);
        const onPods = missingLabels(workload.spec.template.metadata.labels, WORKLOAD_LABELS);
        if (onObject.length > 0) problems.push(`${ref(workload)}: ${onObject.join(', ')}`);
        if (onPods.length > 0) problems.push(`${ref(workload)} pod template: ${onPods.join(', ')}`);
      }
      assert.deepEqual(problems, []);
    });

    it(`resources ${overlay}: every container requests and limits cpu and memory`, () => {
      const problems: string[] = [];
      for (const workload of workloads(rendered)) {
        for (const container of containersOf(workload)) {
          for (const side of ['requests', 'limits'] as const) {
            for (const resource of ['cpu', 'memory']) {
              if (container.resources?.[side]?.[resource] === undefined)
                problems.push(`${ref(workload)} ${container.name}: no ${side}.${resource}`);
            }
          }
        }
      }
      assert.deepEqual(problems, []);
    });

    it(`securityContext ${overlay}: non-root, no privilege escalation, read-only root fs, no capabilities, RuntimeDefault seccomp`, () => {
      const problems: string[] = [];
      for (const workload of workloads(rendered)) {
        const pod = workload.spec.template.spec;
        for (const container of containersOf(workload)) {
          const at = `${ref(workload)} ${container.name}`;
          const sc = container.securityContext ?? {};
          const nonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
          const user = sc.runAsUser ?? pod.securityContext?.runAsUser;
          const seccomp = sc.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
          if (nonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
          if (user === undefined || user === 0) problems.push(`${at}: runAsUser is not a non-zero uid`);
          if (sc.allowPrivilegeEscalation !== false)
            problems.push(`${at}: allowPrivilegeEscalation is not false`);
          if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
          if (!(sc.capabilities?.drop ?? []).includes('ALL'))
            problems.push(`${at}: capabilities do not drop ALL`);
          if (seccomp !== 'RuntimeDefault') problems.push(`${at}: seccompProfile is not RuntimeDefault`);
          const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
          const tmpVolume = pod.volumes?.find((v) => v.name === tmp?.name);
          if (tmpVolume?.emptyDir === undefined) problems.push(`${at}: /tmp is not an emptyDir mount`);
        }
        if (pod.automountServiceAccountToken !== false)
          problems.push(`${ref(workload)}: automountServiceAccountToken is not false`);
        if (pod.enableServiceLinks !== false)
          problems.push(`${ref(workload)}: enableServiceLinks is not false`);
      }
      assert.deepEqual(problems, []);
    });

    it(`images ${overlay}: every image has a pinned tag (not latest)`, () => {
      const problems: string[] = [];
      for (const workload of workloads(rendered)) {
        for (const container of containersOf(workload)) {
          const tag = /:([\w][\w.-]{0,127})$/.exec(container.image)?.[1];
          if (tag === undefined || tag === 'latest')
            problems.push(`${ref(workload)} ${container.name}: ${container.image}`);
        }
      }
      assert.deepEqual(problems, []);
    });

    it(`PodDisruptionBudget ${overlay}: one selects each Deployment and StatefulSet`, () => {
      const pdbs = rendered.objects.filter((o) => o.kind === 'PodDisruptionBudget') as (K8sObject & {
        spec: { selector?: { matchLabels?: Record<string, string> } };
      })[];
      const uncovered = workloads(rendered)
        .filter((w) => w.kind === 'Deployment' || w.kind === 'StatefulSet')
        .filter((w) => {
          const labels = w.spec.template.metadata.labels ?? {};
          return pdbs.filter((p) => selects(p.spec.selector?.matchLabels, labels)).length !== 1;
        })
        .map(ref);
      assert.deepEqual(uncovered, []);
    });
  });
}
