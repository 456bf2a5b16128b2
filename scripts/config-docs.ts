/**
 * Keeps every service README's config table equal to its schema: the table between
 * `<!-- config:start -->` and `<!-- config:end -->` is rendered by `CONFIG.toMarkdown()`.
 *   npm run docs:config          rewrite the tables
 *   npm run docs:config -- --check  fail if any table is stale (CI), and if a schema does not
 *                                    load with its defaults alone
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SERVICES = ['policy-server', 'reward-server', 'trainer', 'coordinator'] as const;
const START = '<!-- config:start -->';
const END = '<!-- config:end -->';
const root = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');
let stale = 0;

for (const service of SERVICES) {
  const mod = (await import(join(root, service, 'src', 'config.ts'))) as {
    CONFIG: { toMarkdown(): string; load(inputs: { env: Record<string, string> }): unknown };
  };
  mod.CONFIG.load({ env: {} }); // throws ConfigError when a key has neither default nor value
  const readmePath = join(root, service, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) {
    console.error(`${service}/README.md: no ${START} … ${END} section`);
    stale++;
    continue;
  }
  const updated = `${readme.slice(0, from + START.length)}\n${mod.CONFIG.toMarkdown().trim()}\n${readme.slice(to)}`;
  if (updated === readme) continue;
  if (check) {
    console.error(`${service}/README.md: config table is stale; run npm run docs:config`);
    stale++;
  } else {
    writeFileSync(readmePath, updated);
    console.log(`${service}/README.md: config table updated`);
  }
}
process.exit(stale === 0 ? 0 : 1);
