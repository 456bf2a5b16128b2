/**
 * A small reader of the services' Dockerfiles for the tests: instructions with their line
 * continuations joined and comments dropped, split into stages. Only what the tests need: no
 * variable expansion, no heredocs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './render.js';

/** One instruction: `FROM`, `RUN`, ... and the rest of its (joined) lines. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** 1-based line where it starts. */
  readonly line: number;
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  readonly path: string;
  readonly text: string;
  readonly instructions: readonly Instruction[];
  /** Instructions of the last stage, its FROM first. */
  readonly finalStage: readonly Instruction[];
}

/** Reads `<workspace>/Dockerfile`. @throws Error when it is missing */
export function readDockerfile(workspace: string): Dockerfile {
  const path = join(REPO_ROOT, workspace, 'Dockerfile');
  const text = readFileSync(path, 'utf8');
  const instructions: Instruction[] = [];
  let pending: { keyword: string; parts: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && pending === undefined)) return;
    const continued = trimmed.endsWith('\\');
    const body = continued ? trimmed.slice(0, -1).trim() : trimmed;
    if (pending === undefined) {
      const [keyword = '', ...rest] = body.split(/\s+/);
      pending = { keyword: keyword.toUpperCase(), parts: [rest.join(' ')], line: index + 1 };
    } else if (body !== '') {
      pending.parts.push(body);
    }
    if (!continued) {
      instructions.push({
        keyword: pending.keyword,
        args: pending.parts.join(' ').trim(),
        line: pending.line,
      });
      pending = undefined;
    }
  });
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  return { path, text, instructions, finalStage: instructions.slice(Math.max(lastFrom, 0)) };
}

/**
 * The final stage's CMD in exec form.
 * @throws Error when there is none or it is in shell form (signals would go to a shell, not node)
 */
export function execCmd(dockerfile: Dockerfile): string[] {
  const cmd = dockerfile.finalStage.filter((i) => i.keyword === 'CMD').at(-1);
  if (cmd === undefined) throw new Error(`${dockerfile.path}: the final stage has no CMD`);
  const argv: unknown = JSON.parse(cmd.args);
  if (!Array.isArray(argv) || !argv.every((a): a is string => typeof a === 'string'))
    throw new Error(`${dockerfile.path}:${cmd.line}: CMD is not in exec (JSON array) form`);
  return argv;
}

/** The args of every instruction of a keyword in the final stage. */
export function finalArgs(dockerfile: Dockerfile, keyword: string): string[] {
  return dockerfile.finalStage.filter((i) => i.keyword === keyword).map((i) => i.args);
}
