/**
 * A transform output's `route` is looked up however many routes the pipeline has: with only `sink`
 * configured (the one route `default`), a name no route has is an `unknown-route` dead letter, as it
 * is beside other routes (README, "Routes: several sinks") — not written to the one sink.
 */
import { describe, expect, it } from 'vitest';
import type { SinkRecord } from '../../src/codec/event.js';
import { JsonRecord } from '../../src/codec/text-record.js';
import type { ResolvedRoute } from '../../src/config/route-options.js';
import type { DeadLetter } from '../../src/delivery/dead-letter.js';
import { DEFAULT_RETRY_OPTIONS } from '../../src/delivery/retry-options.js';
import { routeEach } from '../../src/engine/event-path.js';
import { RouteTable } from '../../src/engine/route-table.js';

const route: ResolvedRoute = { sink: { type: 'null' }, retry: { ...DEFAULT_RETRY_OPTIONS } };

describe('an output naming a route, with one route', () => {
  // What a pipeline given only `sink` has.
  const table = new RouteTable({ default: route }, 'default');

  it('is the one route without a look when it names none', () => {
    expect(table.single).toBe(true);
    expect(table.choose({ id: 'a', payload: 1 })).toBe(0);
  });

  it('goes to the route it names, and a name no route has is unknown', () => {
    expect(table.choose({ id: 'a', payload: 1, route: 'default' })).toBe(0);
    expect(table.choose({ id: 'a', payload: 1, route: ['default', 'default'] })).toBe(0);
    expect(table.choose({ id: 'a', payload: 1, route: 'nope' })).toEqual({
      unknown: 'no route named "nope" (routes: default)',
    });
    expect(table.choose({ id: 'a', payload: 1, route: ['default', 'archive'] })).toEqual({
      unknown: 'no route named "archive" (routes: default)',
    });
  });

  it('dead-letters a record naming an unknown route as unknown-route, the others taken', () => {
    const records: SinkRecord[] = [
      new JsonRecord('r0', undefined, undefined, undefined, '{"i":0}', 'nope'),
      new JsonRecord('r1', undefined, undefined, undefined, '{"i":1}', undefined),
      new JsonRecord('r2', undefined, undefined, undefined, '{"i":2}', 'default'),
    ];
    const letters: DeadLetter[] = [];
    const taken: [number, number][] = [];
    routeEach(table, records, letters, (k, index) => taken.push([k, index]));
    expect(taken).toEqual([
      [1, 0],
      [2, 0],
    ]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      reason: 'unknown-route',
      event: { id: 'r0', payload: { i: 0 } },
      lastError: 'no route named "nope" (routes: default)',
    });
  });
});
