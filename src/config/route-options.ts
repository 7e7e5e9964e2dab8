import { z } from 'zod';
import type { ResolvedRetryOptions, RetryOptions } from '../delivery/retry-options.js';
import { MAX_ROUTE_SLOTS } from '../metrics/metrics-block.js';
import type { ResolvedSinkSpec, SinkSpec } from '../sinks/sink-spec.js';
import { isObject, must, nonEmptyString, strictObject } from './option-schema.js';
import { retryOptionsSchema } from './retry-options-schema.js';
import { sinkSpecSchema } from './sink-spec-schema.js';

/**
 * Routes: named destinations, each a sink with its own dead-letter sink and retry options. The
 * transform sends an event to one or several (`route` on its output), a route's `when` rule takes
 * the events it matches, and `defaultRoute` takes the rest. Without `routes` a pipeline has one
 * route, `default`, made of `sink`, `deadLetter` and `retry`.
 */

/** A value a `when` rule compares with: JSON's scalars. */
export type RouteScalar = string | number | boolean | null;

/** Which events a route takes without a transform naming it: one test on one field. */
export interface RouteRule {
  /** `id`, `key`, `source`, `ts` or `payload.a.b` (dot-separated keys; array indexes as digits). */
  path: string;
  /** The field is this value (strict equality: 1 is not "1"). */
  equals?: RouteScalar;
  /** The field is one of these values. */
  in?: RouteScalar[];
  /** The field is a string this regular expression (JavaScript syntax) finds a match in. */
  matches?: string;
}

export interface RouteOptions {
  sink: SinkSpec;
  /** Where this route's undeliverable events go. @default the pipeline's `deadLetter` */
  deadLetter?: SinkSpec;
  /** This route's sink retries. @default the pipeline's `retry` */
  retry?: RetryOptions;
  when?: RouteRule;
}

/** A rule as resolved: exactly one of equals, in or matches. */
export type ResolvedRouteRule = RouteRule;

/** A route as workers receive it (the pipeline's `routes`, by name, in the order given). */
export interface ResolvedRoute {
  sink: ResolvedSinkSpec;
  /** undefined: the pipeline's dead-letter sink. */
  deadLetter?: ResolvedSinkSpec | undefined;
  retry: ResolvedRetryOptions;
  when?: ResolvedRouteRule | undefined;
}

/** The route a pipeline without `routes` has, and that a top-level `sink` beside `routes` becomes. */
export const DEFAULT_ROUTE_NAME = 'default';

/** At most this many routes: each has its own slots in the shared metrics block. */
export const MAX_ROUTES = MAX_ROUTE_SLOTS;

/** A route name is a Prometheus label value and a log field: kept to a safe alphabet. */
const ROUTE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const NAME_RULE = 'a name of letters, digits, _ and - (starting with a letter or _), at most 64 characters';

const PATH = /^(id|key|source|ts|payload(\.[^.]+)*)$/;
const PATH_RULE = "a path 'id', 'key', 'source', 'ts' or 'payload' followed by .keys";

const scalar = z.union(
  [z.string(), z.number(), z.boolean(), z.null()],
  must('a string, number, boolean or null'),
);

const ruleSchema = strictObject(
  {
    path: nonEmptyString(PATH_RULE).regex(PATH, must(PATH_RULE)),
    equals: scalar.optional(),
    in: z
      .array(scalar, must('an array of strings, numbers, booleans or nulls'))
      .min(1, must('a non-empty array'))
      .optional(),
    matches: z
      .string(must('a regular expression'))
      .refine(compiles, must('a valid regular expression'))
      .optional(),
  },
  'an object { path, equals | in | matches }',
)
  .superRefine((rule, ctx) => {
    const tests = (['equals', 'in', 'matches'] as const).filter((t) => t in rule && rule[t] !== undefined);
    if (tests.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `must have exactly one of equals, in or matches (it has ${tests.length === 0 ? 'none' : tests.join(' and ')})`,
      });
  })
  .transform((rule): ResolvedRouteRule => {
    const { path } = rule;
    if (rule.matches !== undefined) return { path, matches: rule.matches };
    if (rule.in !== undefined) return { path, in: rule.in };
    return { path, equals: rule.equals ?? null };
  });

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/** One route as its schema resolves it: retry stays undefined until the pipeline's is known. */
export interface ParsedRoute {
  sink: ResolvedSinkSpec;
  deadLetter: ResolvedSinkSpec | undefined;
  retry: ResolvedRetryOptions | undefined;
  when: ResolvedRouteRule | undefined;
}

const routeSchema = strictObject(
  {
    sink: sinkSpecSchema,
    deadLetter: sinkSpecSchema.optional(),
    retry: retryOptionsSchema.optional(),
    when: ruleSchema.optional(),
  },
  'an object { sink, deadLetter?, retry?, when? }',
).transform(
  (route): ParsedRoute => ({
    sink: route.sink,
    deadLetter: route.deadLetter,
    retry: route.retry,
    when: route.when,
  }),
);

/** `routes`: names to routes, in the order given (the order `when` rules are tried in). */
export const routesSchema = z
  .record(z.string(), routeSchema, must('an object of route names to { sink, … }'))
  .superRefine(
    (routes, ctx) => {
      const names = Object.keys(routes);
      if (names.length === 0)
        ctx.addIssue({ code: 'custom', path: [], message: 'must name at least one route' });
      if (names.length > MAX_ROUTES)
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `must name at most ${MAX_ROUTES} routes (it names ${names.length})`,
        });
      for (const name of names)
        if (!ROUTE_NAME.test(name))
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: `is not a valid route name: must be ${NAME_RULE}`,
            // The name is what is wrong, not the route it names.
            params: { got: name },
          });
      // Checked even when a route's own fields have problems: every problem is reported at once.
    },
    { when: (payload) => payload.value !== null && typeof payload.value === 'object' },
  );

export const defaultRouteSchema = nonEmptyString('a route name');

/**
 * The rules across `sink`, `routes` and `defaultRoute`, on the fields as given: `defaultRoute`
 * names a route; a top-level `sink` beside `routes` is the route `default`, so a route of that
 * name must have that very sink (as resolved options, which list it among the routes, do).
 */
export function routeFieldProblems(
  fields: Record<string, unknown>,
  report: (path: string[], expectation: string, input: unknown) => void,
): void {
  const routes = fields.routes;
  const names =
    routes !== null && typeof routes === 'object' && !Array.isArray(routes) ? Object.keys(routes) : undefined;
  const withSink = fields.sink !== undefined;
  if (names === undefined) {
    if (fields.defaultRoute !== undefined && routes === undefined)
      report(['defaultRoute'], 'given only with routes', fields.defaultRoute);
    return;
  }
  if (withSink && names.includes(DEFAULT_ROUTE_NAME)) {
    const route = (routes as Record<string, unknown>)[DEFAULT_ROUTE_NAME];
    const sink = route !== null && typeof route === 'object' ? (route as { sink?: unknown }).sink : undefined;
    if (JSON.stringify(sink) !== JSON.stringify(fields.sink))
      report(
        ['routes', DEFAULT_ROUTE_NAME],
        `left out when sink is given (sink is the route '${DEFAULT_ROUTE_NAME}')`,
        route,
      );
  }
  const defaultRoute = fields.defaultRoute;
  if (typeof defaultRoute === 'string') {
    const known = withSink && !names.includes(DEFAULT_ROUTE_NAME) ? [DEFAULT_ROUTE_NAME, ...names] : names;
    if (!known.includes(defaultRoute))
      report(['defaultRoute'], `one of the routes (${known.join(', ')})`, defaultRoute);
  }
}

/** `schema` (an object schema with sink, routes and defaultRoute) checked by routeFieldProblems too. */
export function withRouteRules<Schema extends z.ZodType>(schema: Schema): Schema {
  return schema.superRefine(
    (fields, ctx) =>
      routeFieldProblems(fields as Record<string, unknown>, (path, expectation, input) =>
        ctx.addIssue({ code: 'custom', path, message: `must be ${expectation}`, input }),
      ),
    { when: (payload) => isObject(payload.value) },
  );
}

/** The resolved routes: `sink` as the route `default` first when given, every retry filled in. */
export function resolveRoutes(
  sink: ResolvedSinkSpec | undefined,
  routes: Record<string, ParsedRoute> | undefined,
  defaultRoute: string | undefined,
  retry: ResolvedRetryOptions,
): { routes: Record<string, ResolvedRoute>; defaultRoute: string | undefined } {
  // Route names start with a letter or _, never a digit: the record keeps the order given.
  const list: Record<string, ResolvedRoute> = {};
  // Resolved options list the top-level sink among their routes already (as `default`).
  if (sink !== undefined && routes?.[DEFAULT_ROUTE_NAME] === undefined)
    list[DEFAULT_ROUTE_NAME] = { sink, retry };
  for (const [name, route] of Object.entries(routes ?? {})) {
    const resolved: ResolvedRoute = { sink: route.sink, retry: route.retry ?? retry };
    if (route.deadLetter !== undefined) resolved.deadLetter = route.deadLetter;
    if (route.when !== undefined) resolved.when = route.when;
    list[name] = resolved;
  }
  return {
    routes: list,
    defaultRoute: defaultRoute ?? (sink !== undefined ? DEFAULT_ROUTE_NAME : undefined),
  };
}
