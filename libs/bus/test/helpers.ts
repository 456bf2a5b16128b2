/**
 * Shared pieces of the bus integration tests: a tiny codec (until @rest/proto's generated event
 * messages exist), an inbox to await handler calls with a deadline, and a reset of the streams.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Bus, MessageCodec } from '@rest/bus';

/** A test work item. */
export interface Item {
  readonly id: string;
  readonly n: number;
}

const MAGIC = 'ITEM1:';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes an {@link Item} behind a magic prefix; decoding anything else throws, like a strict proto decode. */
export const ItemCodec: MessageCodec<Item> = {
  encode(message) {
    const bytes = encoder.encode(MAGIC + JSON.stringify({ id: message.id, n: message.n }));
    return { finish: () => bytes };
  },
  decode(bytes) {
    const text = decoder.decode(bytes);
    if (!text.startsWith(MAGIC)) throw new Error('not an Item: bad magic');
    const value = JSON.parse(text.slice(MAGIC.length)) as Partial<Item>;
    if (typeof value.id !== 'string' || typeof value.n !== 'number')
      throw new Error('not an Item: bad fields');
    return { id: value.id, n: value.n };
  },
};

/** A queue of values pushed by callbacks, awaited one by one with a deadline. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.waiter?.();
  }

  get size(): number {
    return this.items.length;
  }

  /** The next value; rejects after `deadlineMs` naming `what`. */
  async next(what: string, deadlineMs = 10_000): Promise<T> {
    const started = Date.now();
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return item;
      const left = deadlineMs - (Date.now() - started);
      if (left <= 0) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined;
          reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`));
        }, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        };
      });
    }
  }
}

/** Resolves `promise` or rejects after `deadlineMs` naming `what`. */
export async function within<T>(promise: Promise<T>, what: string, deadlineMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}`)),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deletes every stream (and so every consumer) and recreates them: each test starts empty. */
export async function resetStreams(bus: Bus): Promise<void> {
  const jsm = await jetstreamManager(bus.connection);
  for await (const name of jsm.streams.names()) await jsm.streams.delete(name);
  await bus.ensureStreams();
}

/** A worker child process that holds the first message it gets (see fixtures/holding-worker.ts). */
export interface HoldingWorker {
  /** Resolves with the held message's stream sequence and delivery count. */
  readonly holding: Promise<{ seq: number; deliveryCount: number }>;
  /** SIGKILLs the process and waits for it to exit. */
  kill(): Promise<void>;
}

/** Starts fixtures/holding-worker.ts against `url`. */
export function spawnHoldingWorker(
  url: string,
  queue: string,
  ackWaitMs: number,
  maxDeliver: number,
): HoldingWorker {
  const fixture = fileURLToPath(new URL('./fixtures/holding-worker.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', fixture, url, queue, String(ackWaitMs), String(maxDeliver)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const holding = new Promise<{ seq: number; deliveryCount: number }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /holding (\d+) (\d+)\n/.exec(out);
      if (m) resolve({ seq: Number(m[1]), deliveryCount: Number(m[2]) });
    });
    child.once('exit', (code) =>
      reject(new Error(`holding worker exited (${code}) before holding a message: ${stderr}`)),
    );
  });
  holding.catch(() => undefined);
  return {
    holding,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
