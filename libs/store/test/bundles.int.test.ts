import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@rest/service-kit';
import { FolderBundleStorage, downloadBundle, type BundleFileInput, type BundleStorage } from '@rest/store';
import { freshStore, startServer, stopServer } from './fixture.js';

before(async () => {
  await startServer();
});
after(async () => {
  await stopServer();
});

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** 50 MB in 1 MiB-ish pieces, as a trainer would stream a state file. */
function* fiftyMegabytes(whole: Buffer): Iterable<Uint8Array> {
  for (let at = 0; at < whole.length; at += 1_000_003) yield whole.subarray(at, at + 1_000_003);
}

/** Yields `count` small files, then throws: a writer dying mid-bundle. */
function* interrupted(count: number): Iterable<BundleFileInput> {
  for (let i = 0; i < count; i++) yield { name: `onnx/part-${i}.onnx`, data: randomBytes(300_000) };
  throw new Error('trainer died');
}

async function checkInterruptedWriteIsInvisible(storage: BundleStorage): Promise<void> {
  await assert.rejects(storage.put('half', interrupted(3)), /trainer died/);
  assert.equal(await storage.has('half'), false);
  assert.equal(await storage.manifest('half'), null);
  await assert.rejects(storage.list('half'), NotFoundError);
  await assert.rejects(storage.openFile('half', 'onnx/part-0.onnx'), NotFoundError);
}

test('GridFsBundleStorage: a 50 MB bundle round-trips byte-identical', async () => {
  const store = await freshStore();
  try {
    const big = randomBytes(50 * 1024 * 1024);
    const config = Buffer.from('{"model_type":"marian"}');
    const manifest = await store.bundles.put('policy-7', [
      { name: 'config.json', data: config },
      { name: 'trainer/state.bin', data: fiftyMegabytes(big) },
    ]);
    assert.deepEqual(
      manifest.files.map((f) => [f.name, f.length, f.sha256]),
      [
        ['config.json', config.length, sha256(config)],
        ['trainer/state.bin', big.length, sha256(big)],
      ],
    );
    assert.equal(await store.bundles.has('policy-7'), true);
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of await store.bundles.openFile('policy-7', 'trainer/state.bin')) {
      hash.update(chunk as Buffer);
      length += (chunk as Buffer).length;
    }
    assert.equal(length, big.length);
    assert.equal(hash.digest('hex'), sha256(big));
    assert.deepEqual(await store.bundles.readFile('policy-7', 'config.json'), config);
    assert.equal(await store.bundles.delete('policy-7'), true);
    assert.equal(await store.bundles.has('policy-7'), false);
    assert.equal(
      await store.db.collection('bundles.chunks').countDocuments({}),
      0,
      'delete removes the chunks',
    );
  } finally {
    await store.close();
  }
});

test('GridFsBundleStorage: a bundle whose write was interrupted is not visible and leaves no files', async () => {
  const store = await freshStore();
  try {
    await checkInterruptedWriteIsInvisible(store.bundles);
    assert.equal(await store.db.collection('bundles.files').countDocuments({}), 0);
    assert.equal(await store.db.collection('bundles.chunks').countDocuments({}), 0);
    // A put of a published id is a no-op that returns the stored manifest (bundles are immutable).
    const first = await store.bundles.put('b1', [{ name: 'a.txt', data: Buffer.from('one') }]);
    const again = await store.bundles.put('b1', [{ name: 'a.txt', data: Buffer.from('two') }]);
    assert.deepEqual(again.files, first.files);
    assert.equal((await store.bundles.readFile('b1', 'a.txt')).toString(), 'one');
    await assert.rejects(store.bundles.openFile('b1', 'missing'), NotFoundError);
    await assert.rejects(
      store.bundles.put('b2', [{ name: '../x', data: Buffer.alloc(1) }]),
      InvalidArgumentError,
    );
    assert.equal(await store.bundles.deleteOrphans(0), 0);
    await store.bundles.delete('b1');
  } finally {
    await store.close();
  }
});

test('FolderBundleStorage: publishes by rename; an interrupted write is invisible and leaves no folder', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rest-bundles-'));
  try {
    const storage = new FolderBundleStorage(root);
    await checkInterruptedWriteIsInvisible(storage);
    assert.deepEqual(await readdir(root), ['.tmp']);
    assert.deepEqual(await readdir(join(root, '.tmp')), []);
    const data = randomBytes(2 * 1024 * 1024);
    const manifest = await storage.put('local-1', [
      { name: 'onnx/encoder_model.onnx', data },
      { name: 'tokenizer.json', data: Buffer.from('{}') },
    ]);
    assert.equal(manifest.files[0]!.sha256, sha256(data));
    assert.deepEqual(await storage.readFile('local-1', 'onnx/encoder_model.onnx'), data);
    assert.deepEqual(
      (await storage.list('local-1')).map((f) => f.name),
      ['onnx/encoder_model.onnx', 'tokenizer.json'],
    );
    await assert.rejects(
      storage.put('x', [{ name: '.rest-manifest.json', data: Buffer.alloc(1) }]),
      InvalidArgumentError,
    );
    assert.equal(await storage.delete('local-1'), true);
    assert.equal(await storage.has('local-1'), false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('downloadBundle: a stored file whose bytes changed is refused by its SHA-256, and nothing is left', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rest-bundles-'));
  try {
    const storage = new FolderBundleStorage(root);
    const data = randomBytes(64 * 1024);
    await storage.put('b-1', [
      { name: 'onnx/encoder_model.onnx', data },
      { name: 'tokenizer.json', data: Buffer.from('{}') },
    ]);
    const good = await downloadBundle(storage, 'b-1', join(root, 'cache', 'good'));
    assert.deepEqual(await readFile(join(good, 'onnx', 'encoder_model.onnx')), data);
    // Flip one byte of the stored file behind the storage's back.
    const stored = join(root, 'b-1', 'onnx', 'encoder_model.onnx');
    const bytes = await readFile(stored);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(stored, bytes);
    await assert.rejects(downloadBundle(storage, 'b-1', join(root, 'cache', 'bad')), (e: unknown) => {
      assert.ok(e instanceof FailedPreconditionError);
      assert.match(e.message, /onnx\/encoder_model\.onnx has SHA-256 [0-9a-f]{64}, its manifest says/);
      return true;
    });
    assert.deepEqual(await readdir(join(root, 'cache')), ['good'], 'no partial folder');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
