import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { SluiceEvent } from '../codec/event.js';
import { InvalidOptionError } from '../errors.js';
import { benchEvent, benchLine } from './bench-event.js';

/**
 * Where a run's events come from, as data (it crosses to producer threads):
 * - `bench`: the built-in scenarios' events (bench-event.ts), objects or NDJSON lines;
 * - `lines`: an NDJSON file, replayed in a loop;
 * - `module`: a user module whose default export returns an iterable (a generator function),
 *   restarted when it ends;
 * - `synthetic`: the shape of `sluice run`'s synthetic source.
 * Whatever the feed, every event gets the run's id `<prefix><seq>` — unique on every pass, so a
 * sink that deduplicates by id stores each one and the ledger counts it — and its intended send
 * time as `ts`, from which the sink side measures latency.
 */
export type EventFeedSpec =
  | { kind: 'bench'; raw: boolean }
  | { kind: 'lines'; path: string }
  | { kind: 'module'; url: string; raw: boolean }
  | { kind: 'synthetic'; keys: number };

/** Event number `seq`, with its id and intended send time. */
export type EventMaker = (seq: number, id: string, intendedAt: number) => SluiceEvent | string;

/** A line's text with `id` and `ts` taken out: `"a":1}` (or `}`), to prefix with the run's own. */
function lineTemplate(object: Record<string, unknown>): string {
  const { id: _id, ts: _ts, ...rest } = object;
  const body = JSON.stringify(rest).slice(1);
  return body === '}' ? '}' : `,${body}`;
}

function withIdAndTs(template: string, id: string, intendedAt: number): string {
  return `{"id":${JSON.stringify(id)},"ts":${intendedAt}${template}`;
}

/**
 * The lines of an NDJSON events file as templates; lines that are not JSON objects are left out
 * and counted (they could carry no id, so no event of theirs could be accounted for).
 */
export function readEventLines(path: string): { templates: string[]; skipped: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(
      '--events',
      'a readable NDJSON file',
      `${path} (${(error as Error).message})`,
    );
  }
  const templates: string[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      skipped++;
      continue;
    }
    templates.push(lineTemplate(value as Record<string, unknown>));
  }
  if (templates.length === 0)
    throw new InvalidOptionError('--events', 'an NDJSON file with at least one JSON object line', path);
  return { templates, skipped };
}

type EventFactory = () => Iterable<unknown> | AsyncIterable<unknown>;

/** Imports an events module and checks its default export is a function returning an iterable. */
async function eventsModule(url: string): Promise<EventFactory> {
  const href = /^[a-z]+:/i.test(url) ? url : pathToFileURL(url).href;
  let module: { default?: unknown };
  try {
    module = (await import(href)) as { default?: unknown };
  } catch (error) {
    throw new InvalidOptionError(
      '--events-module',
      'a module that can be imported',
      `${url} (${(error as Error).message})`,
    );
  }
  if (typeof module.default !== 'function') {
    throw new InvalidOptionError(
      '--events-module',
      'a module whose default export is a generator function',
      `${url} (default export: ${typeof module.default})`,
    );
  }
  return module.default as EventFactory;
}

/** The next event of a module's iterator, restarting it when it ends; one that yields nothing is an error. */
function cycling(factory: EventFactory, url: string): () => unknown {
  let iterator = (factory() as Iterable<unknown>)[Symbol.iterator]?.();
  if (iterator === undefined) {
    throw new InvalidOptionError(
      '--events-module',
      'a module whose default export returns a synchronous iterable (function*)',
      url,
    );
  }
  return () => {
    let step = iterator!.next();
    if (step.done) {
      iterator = (factory() as Iterable<unknown>)[Symbol.iterator]();
      step = iterator.next();
      if (step.done) throw new InvalidOptionError('--events-module', 'a generator that yields events', url);
    }
    return step.value;
  };
}

/** An event from a module as an event object: a line is parsed, an object copied. */
function asObject(value: unknown, url: string): Record<string, unknown> {
  const object = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    throw new InvalidOptionError(
      '--events-module',
      'a generator yielding event objects ({ payload, key? }) or NDJSON lines',
      `${url} (yielded ${JSON.stringify(value)})`,
    );
  }
  return object as Record<string, unknown>;
}

/** Whether a module's first event is a line (pushed raw) rather than an object. */
export async function moduleYieldsLines(url: string): Promise<boolean> {
  const next = cycling(await eventsModule(url), url);
  return typeof next() === 'string';
}

/** The maker of a feed, in the thread that pushes its events. */
export async function openFeed(feed: EventFeedSpec): Promise<EventMaker> {
  switch (feed.kind) {
    case 'bench':
      return feed.raw ? (seq, id, at) => benchLine(id, seq, at) : (seq, id, at) => benchEvent(id, seq, at);
    case 'lines': {
      const { templates } = readEventLines(feed.path);
      return (seq, id, at) => withIdAndTs(templates[seq % templates.length]!, id, at);
    }
    case 'synthetic':
      return (seq, id, at) => ({
        id,
        key: `key-${seq % feed.keys}`,
        source: 'synthetic',
        ts: at,
        payload: { n: seq, value: (seq % 1000) / 1000 },
      });
    case 'module': {
      const next = cycling(await eventsModule(feed.url), feed.url);
      if (feed.raw) {
        return (_seq, id, at) => {
          const value = next();
          const object = asObject(value, feed.url);
          return withIdAndTs(lineTemplate(object), id, at);
        };
      }
      return (_seq, id, at) => {
        const object = asObject(next(), feed.url);
        if (object.payload === undefined) {
          throw new InvalidOptionError(
            '--events-module',
            'events with a payload',
            `${feed.url} (yielded ${JSON.stringify(object)})`,
          );
        }
        return { ...object, id, ts: at } as unknown as SluiceEvent;
      };
    }
  }
}
