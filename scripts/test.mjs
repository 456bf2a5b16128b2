#!/usr/bin/env node
// Runs the test suites with node's test runner on TypeScript through tsx.
// Node 20's `--test` does not expand globs, so the files are listed here.
//   unit tests:        <pkg>/src/**/*.test.ts   (no network, no ports)
//   integration tests: <pkg>/test/**/*.int.test.ts (real servers on loopback)
//   k8s/test/ (not a workspace): manifests, Dockerfiles, and images.int.test.ts (starts the services)
// Usage: node scripts/test.mjs [--unit | --int] [path-filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const only = args.includes('--unit') ? 'unit' : args.includes('--int') ? 'int' : 'all';
const filters = args.filter((a) => !a.startsWith('--'));
const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = [...workspaces, 'k8s']
  .flatMap((ws) => [...walk(join(root, ws, 'src'), []), ...walk(join(root, ws, 'test'), [])])
  .filter((f) => {
    const isInt = f.endsWith('.int.test.ts');
    return only === 'all' || (only === 'int' ? isInt : !isInt);
  })
  .filter((f) => filters.length === 0 || filters.some((p) => relative(root, f).includes(p)))
  .sort();

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=2', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
