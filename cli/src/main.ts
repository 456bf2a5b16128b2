#!/usr/bin/env node
/**
 * The `rest` command: the command-line face of the platform. Each subcommand lives in
 * src/commands/; this file only wires them to commander and turns failures into exit codes.
 */
import { Command } from 'commander';
import { infraUp } from './commands/infra.js';

const program = new Command()
  .name('rest')
  .description('Reinforced Self-Training (ReST) for machine translation: local tools and clients')
  .showHelpAfterError();

const infra = program.command('infra').description('local NATS and MongoDB-compatible servers');
infra
  .command('up')
  .description(
    'start nats-server (JetStream) and FerretDB on free loopback ports, or adopt NATS_URL / MONGODB_URI; ' +
      'keeps them up until Ctrl-C',
  )
  .option('--data-dir <dir>', 'keep server data in this folder between runs (default: temporary folders)')
  .option('--check', 'start, verify that both answer, stop and exit', false)
  .action(async (opts: { dataDir?: string; check: boolean }) => {
    await infraUp({ check: opts.check, ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }) });
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`rest: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
