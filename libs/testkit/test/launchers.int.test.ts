import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { MongoClient } from 'mongodb';
import { canConnect, startFerretDb, startInfra, startNatsServer } from '@rest/testkit';

test('startNatsServer: greets on its port with JetStream and removes its store on stop', async () => {
  const nats = await startNatsServer();
  assert.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await canConnect(nats.port), true);
  assert.equal(existsSync(nats.storeDir), true);
  await nats.stop();
  assert.equal(await canConnect(nats.port), false);
  assert.equal(existsSync(nats.storeDir), false);
});

test('startFerretDb: stores and reads back a document through the official driver', async () => {
  await using db = await startFerretDb();
  const client = new MongoClient(db.uri);
  try {
    const coll = client.db('t').collection<{ _id: string; v: number }>('c');
    await coll.insertOne({ _id: 'a', v: 1 });
    assert.deepEqual(await coll.findOne({ _id: 'a' }), { _id: 'a', v: 1 });
  } finally {
    await client.close();
  }
});

test('startInfra: adopts servers named by the caller instead of starting its own', async () => {
  const infra = await startInfra({
    natsUrl: 'nats://example.invalid:4222',
    mongoUri: 'mongodb://example.invalid/',
  });
  assert.equal(infra.nats, undefined);
  assert.equal(infra.ferretdb, undefined);
  assert.equal(infra.natsUrl, 'nats://example.invalid:4222');
  await infra.stop();
});
