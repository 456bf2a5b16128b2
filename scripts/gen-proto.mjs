#!/usr/bin/env node
// `npm run gen`: lints the contracts, then regenerates proto/gen/ts from them with buf and the
// ts-proto plugin (options in proto/buf.gen.yaml). Both come from the root node_modules, so it
// runs offline. The output is committed as generated and is not formatted (prettier and eslint
// skip proto/gen); CI reruns this and fails on any diff.
// Usage: node scripts/gen-proto.mjs [--no-lint]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const protoDir = fileURLToPath(new URL('../proto/', import.meta.url));
const buf = fileURLToPath(new URL('../node_modules/.bin/buf', import.meta.url));
const plugin = fileURLToPath(new URL('../node_modules/.bin/protoc-gen-ts_proto', import.meta.url));

for (const [path, pkg] of [
  [buf, '@bufbuild/buf'],
  [plugin, 'ts-proto'],
]) {
  if (!existsSync(path)) {
    console.error(`gen-proto: ${path} is missing; run \`npm install\` in ${root} (devDependency ${pkg})`);
    process.exit(1);
  }
}

function run(args) {
  const result = spawnSync(buf, args, { cwd: protoDir, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`gen-proto: buf ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

if (!process.argv.includes('--no-lint')) run(['lint']);
run(['generate']);
console.log('gen-proto: proto/gen/ts regenerated');
