/**
 * `routes`, `defaultRoute` and `when` rules: validated with the rest of the options (every
 * problem at once, naming the field and quoting the value), resolved into the routes workers run.
 */
import { describe, expect, it } from 'vitest';
import { type PipelineOptions, resolvePipelineOptions } from '../../src/config/pipeline-options.js';
import { resolveRunConfig } from '../../src/config/run-config.js';
import { InvalidOptionError, RunConfigError } from '../../src/errors.js';

function problemsOf(options: unknown): string[] {
  try {
    resolvePipelineOptions(options as PipelineOptions);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).problems;
  }
}

const NULL = { type: 'null' } as const;
const DL = { deadLetter: NULL } as const;

describe('routes', () => {
  it('without routes, the sink is the one route, default, with the pipeline retries', () => {
    const o = resolvePipelineOptions({ sink: NULL, ...DL, retry: { maxAttempts: 3 } });
    expect(Object.keys(o.routes)).toEqual(['default']);
    expect(o.routes.default).toEqual({ sink: NULL, retry: o.retry });
    expect(o.defaultRoute).toBe('default');
  });

  it('a sink beside routes is the route default, first, and the default route; routes keep the order given', () => {
    const o = resolvePipelineOptions({
      sink: NULL,
      routes: {
        zeta: { sink: { type: 'ndjson', path: 'z.ndjson' }, retry: { maxAttempts: 2 } },
        alpha: {
          sink: NULL,
          deadLetter: { type: 'ndjson', path: 'a-dl.ndjson' },
          when: { path: 'payload.a.0', in: [1, 'x'] },
        },
      },
      ...DL,
    });
    expect(Object.keys(o.routes)).toEqual(['default', 'zeta', 'alpha']);
    expect(o.defaultRoute).toBe('default');
    expect(o.sink).toEqual(NULL);
    expect(o.routes.zeta!.retry.maxAttempts).toBe(2);
    expect(o.routes.zeta!.deadLetter).toBeUndefined();
    expect(o.routes.alpha!.retry).toEqual(o.retry);
    expect(o.routes.alpha!.deadLetter).toEqual({ type: 'ndjson', path: 'a-dl.ndjson', fsync: 'batch' });
    expect(o.routes.alpha!.when).toEqual({ path: 'payload.a.0', in: [1, 'x'] });
  });

  it('routes alone: no default route unless named; sink names the default route’s sink', () => {
    const alone = resolvePipelineOptions({ routes: { a: { sink: NULL } }, ...DL });
    expect(alone.defaultRoute).toBeUndefined();
    expect(Object.keys(alone.routes)).toEqual(['a']);
    const named = resolvePipelineOptions({
      routes: { a: { sink: NULL }, b: { sink: { type: 'ndjson', path: 'b.ndjson' } } },
      defaultRoute: 'b',
      ...DL,
    });
    expect(named.sink).toMatchObject({ type: 'ndjson', path: 'b.ndjson' });
  });

  it('resolved options with routes resolve again to the same options (as a worker receives them)', () => {
    const o = resolvePipelineOptions({
      sink: NULL,
      routes: { r: { sink: NULL, when: { path: 'source', matches: '^a' } } },
      defaultRoute: 'r',
      ...DL,
    });
    expect(resolvePipelineOptions(structuredClone(o) as PipelineOptions)).toEqual(o);
  });

  it('every problem of routes, rules and defaultRoute at once, naming the field and the value', () => {
    expect(
      problemsOf({
        sink: NULL,
        ...DL,
        routes: {
          default: { sink: { type: 'ndjson', path: 'other.ndjson' } },
          '9lives': { sink: NULL },
          two: { sink: NULL, when: { path: 'payload.x', equals: 1, matches: 'a' } },
          none: { sink: NULL, when: { path: 'payload.x' } },
          badRegex: { sink: NULL, when: { path: 'id', matches: '(' } },
          badPath: { sink: NULL, when: { path: 'body.x', equals: 1 } },
          badSink: { sink: { type: 'carrier-pigeon' } },
          extra: { sink: NULL, colour: 'red' },
        },
        defaultRoute: 'nowhere',
      }),
    ).toEqual([
      'routes.extra.colour is not a known field (expected one of sink, deadLetter, retry, when), got "red"',
      'routes.two.when must have exactly one of equals, in or matches (it has equals and matches), got {"path":"payload.x","equals":1,"matches":"a"}',
      'routes.none.when must have exactly one of equals, in or matches (it has none), got {"path":"payload.x"}',
      'routes.badRegex.when.matches must be a valid regular expression, got "("',
      "routes.badPath.when.path must be a path 'id', 'key', 'source', 'ts' or 'payload' followed by .keys, got \"body.x\"",
      'routes.badSink.sink.type must be one of null, ndjson, sqlite, postgres, nats-jetstream, redis-streams, got "carrier-pigeon"',
      'routes["9lives"] is not a valid route name: must be a name of letters, digits, _ and - (starting with a letter or _), at most 64 characters, got "9lives"',
      'routes.default must be left out when sink is given (sink is the route \'default\'), got {"sink":{"type":"ndjson","path":"other.ndjson"}}',
      'defaultRoute must be one of the routes (default, 9lives, two, none, badRegex, badPath, badSink, extra), got "nowhere"',
    ]);
  });

  it('a route name with quotes, a line break or markup is quoted where the problem names it', () => {
    const name = 'a"b\n</script>';
    expect(problemsOf({ routes: { [name]: { sink: NULL } }, ...DL })).toEqual([
      `routes[${JSON.stringify(name)}] is not a valid route name: must be a name of letters, digits, _ and - (starting with a letter or _), at most 64 characters, got ${JSON.stringify(name)}`,
    ]);
    // A problem inside such a route names it the same way, one line whatever the name holds.
    const [problem] = problemsOf({ routes: { [name]: { sink: { type: 'carrier-pigeon' } } }, ...DL }).filter(
      (p) => p.includes('.sink.type'),
    );
    expect(problem).toMatch(/^routes\["a\\"b\\n<\/script>"\]\.sink\.type must be one of /);
    expect(problem).not.toContain('\n');
  });

  it('at most 16 routes; defaultRoute only with routes', () => {
    const routes = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`r${i}`, { sink: NULL }]));
    expect(problemsOf({ routes, ...DL })).toEqual([
      expect.stringMatching(/^routes must name at most 16 routes \(it names 17\)/),
    ]);
    expect(problemsOf({ sink: NULL, defaultRoute: 'a', ...DL })).toEqual([
      'defaultRoute must be given only with routes, got "a"',
    ]);
  });

  it('a run config takes routes instead of sink, and needs one of them', () => {
    const source = { type: 'synthetic' };
    const config = resolveRunConfig(
      { source, routes: { out: { sink: { type: 'ndjson', path: 'out.ndjson' } } }, defaultRoute: 'out' },
      '/base',
    );
    // Paths inside routes resolve against the config file's directory, as the sink's do.
    expect(config.pipeline.routes.out!.sink).toMatchObject({ type: 'ndjson', path: '/base/out.ndjson' });
    expect(config.pipeline.defaultRoute).toBe('out');
    expect(() => resolveRunConfig({ source }, '/base')).toThrow(RunConfigError);
  });
});
