import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResolvedPipelineOptions } from '../config/pipeline-options.js';
import { DEFAULT_ROUTE_NAME } from '../config/route-options.js';
import type { RunConfig } from '../config/run-config.js';
import { InvalidOptionError } from '../errors.js';
import type { ResolvedSinkSpec } from '../sinks/sink-spec.js';
import { type EventFeedSpec, moduleYieldsLines, readEventLines } from './event-feed.js';
import { ledgerTransformUrl } from './ledger-transform.js';
import type { Scenario } from './scenario.js';

/** Where `sluice bench --config` takes its events from, as the flags say. */
export interface ConfigEvents {
  /** `--events FILE.ndjson`. */
  events?: string;
  /** `--events-module M`. */
  eventsModule?: string;
}

/** The events of a configured run: the flags first, then the config's own source if it can be replayed. */
async function feedOf(
  config: RunConfig,
  flags: ConfigEvents,
): Promise<{ feed: EventFeedSpec; from: string }> {
  if (flags.events !== undefined) {
    const path = resolve(flags.events);
    const { templates, skipped } = readEventLines(path);
    if (skipped > 0)
      process.emitWarning(
        `${flags.events}: ${skipped} line(s) are not JSON objects and are left out of the run`,
      );
    return {
      feed: { kind: 'lines', path },
      from: `${flags.events} (${templates.length} events, replayed in a loop)`,
    };
  }
  if (flags.eventsModule !== undefined) {
    const url = pathToFileURL(resolve(flags.eventsModule)).href;
    return {
      feed: { kind: 'module', url, raw: await moduleYieldsLines(url) },
      from: `the generator of ${flags.eventsModule}`,
    };
  }
  const { source } = config;
  if (source.type === 'synthetic')
    return { feed: { kind: 'synthetic', keys: source.keys ?? 16 }, from: "the config's synthetic source" };
  if (source.type === 'ndjson' && source.path !== '-') {
    readEventLines(source.path);
    return {
      feed: { kind: 'lines', path: source.path },
      from: `${source.path} (the config's source, replayed in a loop)`,
    };
  }
  throw new InvalidOptionError(
    '--events',
    `given (or --events-module): the config's ${source.type} source cannot be replayed by the bench`,
    undefined,
  );
}

function sinkName(spec: ResolvedSinkSpec): string {
  return 'type' in spec ? spec.type : `module ${basename(spec.module)}`;
}

/**
 * The scenario of `sluice bench --config FILE`: the user's pipeline as `sluice run` resolved it,
 * its transform wrapped so that filtered events are accounted for by id (ledger-transform.ts),
 * and events from the flags or the config's source.
 */
export async function configScenario(
  file: string,
  config: RunConfig,
  flags: ConfigEvents,
): Promise<Scenario> {
  const routes = Object.entries(config.pipeline.routes);
  const { feed, from } = await feedOf(config, flags);
  if (routes.length > 1) {
    // Each route through a ledger of its own (engine-system.ts); filtered events' markers go to
    // the first route's, whatever its rule.
    const transform =
      config.pipeline.transform === undefined
        ? 'no transform'
        : `transform ${basename(config.pipeline.transform)}`;
    return {
      name: `config ${basename(file)}`,
      description: `${transform} → routes ${routes.map(([name, r]) => `${name} (${sinkName(r.sink)})`).join(', ')}; events from ${from}`,
      transform: ledgerTransformUrl(config.pipeline.transform, routes[0]![0]),
      raw: feed.kind === 'lines' || (feed.kind === 'module' && feed.raw),
      sink: 'null',
      feed,
      pipeline: config.pipeline,
    };
  }
  // The one route's own dead-letter sink and retries, where it has them, are the pipeline's here.
  const [routeName, route] = routes[0]!;
  const pipeline: ResolvedPipelineOptions = {
    ...config.pipeline,
    sink: route.sink,
    deadLetter: route.deadLetter ?? config.pipeline.deadLetter,
    retry: route.retry,
  };
  const transform =
    pipeline.transform === undefined ? 'no transform' : `transform ${basename(pipeline.transform)}`;
  return {
    name: `config ${basename(file)}`,
    description: `${transform} → ${sinkName(pipeline.sink)} sink; events from ${from}`,
    transform: ledgerTransformUrl(
      pipeline.transform,
      routeName === DEFAULT_ROUTE_NAME ? undefined : routeName,
    ),
    raw: feed.kind === 'lines' || (feed.kind === 'module' && feed.raw),
    sink: 'null',
    feed,
    pipeline,
  };
}
