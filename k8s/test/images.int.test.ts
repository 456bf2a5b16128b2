/**
 * Each image's CMD starts its service, checked outside a container: the CMD's argv (plus the
 * Deployment's args) runs from the repository root against the built workspace, with the dev
 * overlay's ConfigMap as env and loopback port 0, NATS and MongoDB from testkit. The test reads the
 * bound port from the `serving` log line, asks grpc.health.v1 for SERVING, then sends SIGTERM and
 * expects exit code 0. A service whose src/main.ts does not exist yet is a todo, so it lights up
 * when its main lands.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { startInfra, type Infra } from '@rest/testkit';
import { execCmd, readDockerfile } from './dockerfile.js';
import { build, find, REPO_ROOT, type Workload } from './render.js';
import { SERVICES, type ServiceSpec } from './services.js';

/** Model load and warm-up included; a cold tsx-free node start is well under this. */
const START_DEADLINE_MS = 60_000;
/** drain (2s) + close (1s) below, with room for NATS and session release. */
const EXIT_DEADLINE_MS = 20_000;
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');
type CheckCallback = (error: grpc.ServiceError | null, response?: { status?: string }) => void;

/** The env of a Deployment's container in the dev overlay: its ConfigMaps, without Secret values. */
function manifestEnv(spec: ServiceSpec): Record<string, string> {
  const dev = build('dev');
  const deployment = find(dev.objects, 'Deployment', spec.deployment) as Workload | undefined;
  assert.ok(deployment, `Deployment/${spec.deployment} in the dev overlay`);
  const env: Record<string, string> = {};
  for (const c of deployment.spec.template.spec.containers) {
    for (const from of c.envFrom ?? []) {
      const name = from.configMapRef?.name;
      if (name !== undefined) Object.assign(env, find(dev.objects, 'ConfigMap', name)?.data ?? {});
    }
    for (const entry of c.env ?? []) if (entry.value !== undefined) env[entry.name] = entry.value;
  }
  return env;
}

/** Resolves with the first JSON log line on stdout that `match` accepts; rejects at exit or the deadline. */
function waitForLine(
  child: ChildProcess,
  match: (line: Record<string, unknown>) => boolean,
  deadlineMs: number,
  output: string[],
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no matching log line within ${deadlineMs} ms`)),
      deadlineMs,
    );
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null, signal: string | null): void => {
      clearTimeout(timer);
      reject(new Error(`exited (code ${code}, signal ${signal}) before a matching log line`));
    };
    child.once('exit', onExit);
    lines.on('line', (text) => {
      output.push(text);
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (typeof line === 'object' && line !== null && match(line as Record<string, unknown>)) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(line as Record<string, unknown>);
      }
    });
  });
}

function healthStatus(port: number): Promise<string | undefined> {
  const client = new HealthClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    check(request: { service: string }, options: grpc.CallOptions, callback: CheckCallback): void;
  };
  return new Promise<string | undefined>((resolve, reject) => {
    client.check({ service: '' }, { deadline: Date.now() + 10_000 }, (error, response) => {
      client.close();
      if (error !== null) reject(error);
      else resolve(response?.status);
    });
  });
}

function exitOf(child: ChildProcess, deadlineMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(
      () => reject(new Error(`still running ${deadlineMs} ms after SIGTERM`)),
      deadlineMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('service images: the CMD starts the built service', () => {
  let infra: Infra | undefined;
  after(async () => {
    await infra?.stop();
  });

  for (const spec of SERVICES) {
    const argv = [...execCmd(readDockerfile(spec.workspace)), ...spec.args];
    const name = `${spec.deployment} image: \`${argv.join(' ')}\` serves grpc.health.v1 SERVING and exits 0 on SIGTERM`;
    if (!existsSync(join(REPO_ROOT, spec.workspace, 'src', 'main.ts'))) {
      it(name, { todo: `${spec.workspace} has no main yet` });
      continue;
    }
    it(name, { timeout: 180_000 }, async () => {
      // What CI's `npm run build` made; a no-op then, and a build of just this closure otherwise.
      const tsc = spawnSync(process.execPath, [TSC, '--build', spec.workspace], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      });
      assert.equal(tsc.status, 0, `tsc --build ${spec.workspace}:\n${tsc.stdout}${tsc.stderr}`);
      infra ??= await startInfra();
      const p = spec.config.prefix;
      const home = mkdtempSync(join(tmpdir(), `rest-image-${spec.deployment}-`));
      const env: Record<string, string> = {
        PATH: process.env['PATH'] ?? '',
        HOME: home,
        TMPDIR: home,
        NODE_ENV: 'production',
        ...manifestEnv(spec),
        [`${p}_GRPC__HOST`]: '127.0.0.1',
        [`${p}_GRPC__PORT`]: '0',
        [`${p}_GRPC__METRICS_PORT`]: '0',
        [`${p}_GRPC__DRAIN_TIMEOUT_MS`]: '2s',
        [`${p}_GRPC__CLOSE_TIMEOUT_MS`]: '1s',
        [`${p}_NATS_URL`]: infra.natsUrl,
        [`${p}_MONGO_URI`]: infra.mongoUri,
      };
      const [command = '', ...args] = argv;
      const child = spawn(command === 'node' ? process.execPath : command, args, {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output: string[] = [];
      child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
      try {
        const serving = await waitForLine(
          child,
          (line) => line['msg'] === 'serving' && typeof line['port'] === 'number',
          START_DEADLINE_MS,
          output,
        ).catch((error: Error) => assert.fail(`${error.message}; output:\n${output.join('\n')}`));
        assert.equal(await healthStatus(serving['port'] as number), 'SERVING');
        child.kill('SIGTERM');
        assert.equal(await exitOf(child, EXIT_DEADLINE_MS), 0, `exit code; output:\n${output.join('\n')}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        rmSync(home, { recursive: true, force: true });
      }
    });
  }
});
