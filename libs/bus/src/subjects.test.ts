import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '@rest/service-kit';
import {
  RUN_EVENTS,
  deadLetterSubject,
  parseRunEventSubject,
  parseWorkSubject,
  runEventKindFilter,
  runEventSubject,
  runEventsFilter,
  updateSubject,
  validateRunId,
  workStream,
  workSubject,
  type WorkQueue,
} from './subjects.js';

test('workSubject: builds rest.work.<queue> and parses back', () => {
  assert.equal(workSubject('grow'), 'rest.work.grow');
  assert.equal(workSubject('improve'), 'rest.work.improve');
  assert.equal(workSubject('eval'), 'rest.work.eval');
  assert.equal(parseWorkSubject('rest.work.eval'), 'eval');
  assert.throws(() => parseWorkSubject('rest.work.train'), InvalidArgumentError);
  assert.throws(() => workSubject('train' as WorkQueue), InvalidArgumentError);
});

test('runEventSubject: keeps the event dots as tokens and round-trips every event', () => {
  assert.equal(runEventSubject('r42', 'grow.shard.done'), 'rest.runs.r42.grow.shard.done');
  for (const event of RUN_EVENTS) {
    assert.deepEqual(parseRunEventSubject(runEventSubject('run_1-x', event)), { runId: 'run_1-x', event });
  }
  assert.equal(runEventsFilter('r42'), 'rest.runs.r42.>');
  assert.equal(runEventKindFilter('run.completed'), 'rest.runs.*.run.completed');
});

test('validateRunId: rejects dots, wildcards, spaces and empty ids with InvalidArgumentError on runId', () => {
  for (const bad of ['', 'a.b', '*', '>', 'a b', 'a\tb', 'x'.repeat(129), 'é']) {
    assert.throws(
      () => validateRunId(bad),
      (err: unknown) => err instanceof InvalidArgumentError && err.violations[0]?.field === 'runId',
      JSON.stringify(bad),
    );
    assert.throws(() => runEventSubject(bad, 'grow.started'), InvalidArgumentError);
  }
  assert.equal(validateRunId('65f0c0ffee0123456789abcd'), '65f0c0ffee0123456789abcd');
});

test('parseRunEventSubject: rejects unknown events and foreign subjects', () => {
  assert.throws(() => parseRunEventSubject('rest.runs.r1.grow.exploded'), InvalidArgumentError);
  assert.throws(() => parseRunEventSubject('rest.work.grow'), InvalidArgumentError);
  assert.throws(() => parseRunEventSubject('rest.runs.r1'), InvalidArgumentError);
});

test('deadLetterSubject: one per queue under rest.dead, outside every work stream', () => {
  assert.equal(deadLetterSubject('grow'), 'rest.dead.work.grow');
  assert.equal(workStream('improve'), 'REST_WORK_IMPROVE');
  assert.equal(updateSubject('policies'), 'rest.policies.published');
  assert.equal(updateSubject('routes'), 'rest.routes.updated');
});
