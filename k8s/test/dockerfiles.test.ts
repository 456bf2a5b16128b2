/**
 * The service images' Dockerfiles: hadolint (pinned in scripts/install-python-peers.sh, settings in
 * .hadolint.yaml) finds nothing, and each file keeps the promises the manifests rely on: an exec-form
 * CMD running the workspace's dist/main.js, a numeric non-root user equal to the pods' runAsUser,
 * the config's ports exposed, a pinned Node 20 base, the CUDA switch, every workspace's manifest
 * copied in (npm ci checks the lockfile against all of them), and no drift between the four files.
 * That the CMD really starts the service is images.int.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execCmd, finalArgs, readDockerfile } from './dockerfile.js';
import { build, isWorkload, REPO_ROOT, venvBin } from './render.js';
import { IMAGE_WORKSPACES, SERVICES } from './services.js';

/** The uid:gid the images run as; k8s/base's pods set the same runAsUser/runAsGroup. */
const IMAGE_USER = '10001:10001';

const workspaces = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
).workspaces;

function portsOf(workspace: string): { port: number; metricsPort: number } {
  const spec = SERVICES.find((s) => s.workspace === workspace);
  assert.ok(spec);
  const { port, metricsPort } = spec.config.load({ env: {} }).grpc;
  return { port, metricsPort };
}

describe('service Dockerfiles', () => {
  for (const workspace of IMAGE_WORKSPACES) {
    it(`hadolint ${workspace}/Dockerfile: no findings`, () => {
      const result = spawnSync(
        venvBin('hadolint'),
        ['--config', join(REPO_ROOT, '.hadolint.yaml'), '--no-color', join(workspace, 'Dockerfile')],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      );
      assert.equal(result.error, undefined);
      assert.equal(result.status, 0, `hadolint:\n${result.stdout}${result.stderr}`);
    });

    it(`${workspace}/Dockerfile: CMD runs node ${workspace}/dist/main.js in exec form`, () => {
      assert.deepEqual(execCmd(readDockerfile(workspace)), ['node', `${workspace}/dist/main.js`]);
    });

    it(`${workspace}/Dockerfile: the final stage runs as ${IMAGE_USER} and exposes the config's ports`, () => {
      const dockerfile = readDockerfile(workspace);
      assert.deepEqual(finalArgs(dockerfile, 'USER'), [IMAGE_USER]);
      const { port, metricsPort } = portsOf(workspace);
      assert.deepEqual(finalArgs(dockerfile, 'EXPOSE'), [`${port} ${metricsPort}`]);
    });

    it(`${workspace}/Dockerfile: pinned Node 20 base and ONNXRUNTIME_NODE_INSTALL defaulting to skip`, () => {
      const args = readDockerfile(workspace)
        .instructions.filter((i) => i.keyword === 'ARG')
        .map((i) => i.args);
      assert.ok(
        args.some((a) => /^NODE_IMAGE=node:20\.\d+\.\d+-[a-z]+-slim$/.test(a)),
        `ARG NODE_IMAGE=node:20.x.y-<debian>-slim in ${args.join(' | ')}`,
      );
      assert.ok(args.some((a) => /^CUDA_IMAGE=nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-/.test(a)));
      assert.ok(args.includes('ONNXRUNTIME_NODE_INSTALL=skip'));
    });

    it(`${workspace}/Dockerfile: copies the package.json of every workspace in the root package.json`, () => {
      const copied = readDockerfile(workspace)
        .instructions.filter((i) => i.keyword === 'COPY')
        .map((i) => /^(\S+)\/package\.json \S+\/$/.exec(i.args)?.[1])
        .filter((dir): dir is string => dir !== undefined);
      assert.deepEqual(copied, workspaces);
    });
  }

  it('Dockerfiles: the four differ only in their workspace name and ports', () => {
    const normalized = IMAGE_WORKSPACES.map((workspace) => {
      const { port, metricsPort } = portsOf(workspace);
      // The workspace manifests are the same list in all four (checked above), so they are left out.
      return readDockerfile(workspace)
        .text.split('\n')
        .filter((line) => !/^COPY \S+\/package\.json \S+\/$/.test(line))
        .join('\n')
        .replace(`EXPOSE ${port} ${metricsPort}`, 'EXPOSE <ports>')
        .replaceAll(workspace, '<workspace>');
    });
    for (const [i, text] of normalized.entries())
      assert.equal(
        text,
        normalized[0],
        `${IMAGE_WORKSPACES[i]}/Dockerfile vs ${IMAGE_WORKSPACES[0]}/Dockerfile`,
      );
  });

  it(`manifests: the service pods run as the images' user (${IMAGE_USER})`, () => {
    const [uid, gid] = IMAGE_USER.split(':').map(Number);
    const images = new Set(SERVICES.map((s) => s.image));
    for (const workload of build('cpu').objects.filter(isWorkload)) {
      const pod = workload.spec.template.spec;
      if (!pod.containers.some((c) => images.has(c.image.split(':')[0] ?? ''))) continue;
      assert.equal(pod.securityContext?.runAsUser, uid, workload.metadata.name);
      assert.equal(pod.securityContext?.runAsGroup, gid, workload.metadata.name);
    }
  });
});
