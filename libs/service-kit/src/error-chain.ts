/**
 * Turns an error and its `cause` chain into plain objects for one log line, so any `Logger`
 * implementation (not only pino's serializers) records the whole chain.
 */

/** One link of an error's cause chain, as logged. */
export interface ErrorLink {
  readonly name: string;
  readonly message: string;
  /** `code` of system and gRPC errors (e.g. `ECONNREFUSED`, 14). */
  readonly code?: string | number;
  readonly stack?: string;
}

/** Longest chain followed; a cycle or a pathological chain stops here. */
const MAX_LINKS = 8;

/**
 * The error and each `cause` below it, outermost first, at most 8 links. Non-Error values become one
 * link named after their type. Meant for logs only: it includes stacks and raw messages.
 */
export function errorChain(error: unknown): ErrorLink[] {
  const links: ErrorLink[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && links.length < MAX_LINKS && !seen.has(current)) {
    seen.add(current);
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      links.push({
        name: current.name,
        message: current.message,
        ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
        ...(current.stack === undefined ? {} : { stack: current.stack }),
      });
      current = current.cause;
    } else {
      links.push({ name: typeof current, message: safeString(current) });
      current = undefined;
    }
  }
  return links;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return Object.prototype.toString.call(value);
  }
}
