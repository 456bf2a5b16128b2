import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Violations } from '@rest/service-kit';
import type { RunDoc } from '@rest/store';
import { checkRunId, decodePageToken, encodePageToken, isAfter, newestFirst } from './run-wire.js';

const run = (id: string, createdAtMs: number): RunDoc =>
  ({ _id: id, createdAt: new Date(createdAtMs) }) as unknown as RunDoc;

describe('run-wire', () => {
  it('page tokens: round trip; anything else is not a token', () => {
    const cursor = { createdAtMs: 1_700_000_000_123, runId: 'r-1' };
    assert.deepEqual(decodePageToken(encodePageToken(cursor)), cursor);
    for (const bad of [
      'nope',
      '',
      Buffer.from('[1]').toString('base64url'),
      Buffer.from('{"a":1}').toString('base64url'),
    ])
      assert.equal(decodePageToken(bad), undefined, bad);
  });

  it('newestFirst / isAfter: creation time descending, then id descending', () => {
    const runs = [run('a', 1), run('c', 2), run('b', 2), run('d', 0)].sort(newestFirst);
    assert.deepEqual(
      runs.map((r) => r._id),
      ['c', 'b', 'a', 'd'],
    );
    const cursor = { createdAtMs: 2, runId: 'c' };
    assert.deepEqual(
      runs.filter((r) => isAfter(r, cursor)).map((r) => r._id),
      ['b', 'a', 'd'],
    );
  });

  it('checkRunId: a subject token the store also takes', () => {
    const v = new Violations();
    for (const ok of ['r1', 'A_b-9', 'x'.repeat(128)]) checkRunId(v, 'ok', ok);
    assert.equal(v.count, 0);
    for (const bad of ['', '-lead', 'a.b', 'a b', 'x'.repeat(129), 'a*']) checkRunId(v, `bad ${bad}`, bad);
    assert.equal(v.count, 6);
  });
});
