// Shared set-up for the store's integration tests: one real FerretDB per test file.
import { startFerretDb, type FerretDb } from '@rest/testkit';
import { openStore, type Store } from '@rest/store';

let server: FerretDb | undefined;
let counter = 0;

/** Starts the file's FerretDB (call from `before`). */
export async function startServer(): Promise<FerretDb> {
  server = await startFerretDb();
  return server;
}

/** Stops it (call from `after`). */
export async function stopServer(): Promise<void> {
  await server?.stop();
  server = undefined;
}

/** A store on a fresh database of the running server. */
export async function freshStore(dbName = `t${process.pid}_${counter++}`): Promise<Store> {
  if (server === undefined) throw new Error('startServer() first');
  return openStore({ uri: server.uri, dbName });
}

/** Another connection (its own MongoClient) to the same database as `store`. */
export async function sameDb(store: Store): Promise<Store> {
  if (server === undefined) throw new Error('startServer() first');
  return openStore({ uri: server.uri, dbName: store.db.databaseName, ensureIndexes: false, maxPoolSize: 2 });
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
