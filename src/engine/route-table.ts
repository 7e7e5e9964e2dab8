import type { SinkRecord } from '../codec/event.js';
import type { ResolvedRoute, ResolvedRouteRule, RouteScalar } from '../config/route-options.js';

/** Where one record goes: route indexes (one or more), or why it goes nowhere. */
export type RouteChoice = number | readonly number[] | { unknown: string };

/**
 * Chooses each record's routes, in a worker: the names a transform set on it (`route`), else every
 * route whose `when` rule matches it, else the default route. A name no route has, or a record no
 * rule and no default takes, is an `unknown-route` dead letter with the reason in words.
 */
export class RouteTable {
  readonly names: readonly string[];
  readonly #index = new Map<string, number>();
  readonly #rules: {
    index: number;
    rule: ResolvedRouteRule;
    /** The rule's path split into keys: ['payload', 'a', 'b']. */
    keys: string[];
    pattern: RegExp | undefined;
  }[] = [];
  readonly #default: number | undefined;
  /**
   * One route, no rules, and it is the default: every record that names no route goes there
   * without a look. A record that names one is still looked up: a name no route has is an
   * `unknown-route` dead letter with one route as with several, as the README says.
   */
  readonly single: boolean;

  constructor(routes: Readonly<Record<string, ResolvedRoute>>, defaultRoute: string | undefined) {
    this.names = Object.keys(routes);
    this.names.forEach((name, i) => {
      this.#index.set(name, i);
      const rule = routes[name]!.when;
      if (rule)
        this.#rules.push({
          index: i,
          rule,
          keys: rule.path.split('.'),
          pattern: rule.matches === undefined ? undefined : new RegExp(rule.matches),
        });
    });
    this.#default = defaultRoute === undefined ? undefined : this.#index.get(defaultRoute);
    this.single = this.names.length === 1 && this.#rules.length === 0 && this.#default === 0;
  }

  choose(record: SinkRecord): RouteChoice {
    const named = record.route;
    if (named !== undefined) return this.#byName(named);
    if (this.single) return 0;
    let chosen: number[] | undefined;
    if (this.#rules.length > 0) {
      // The payload is parsed (a text record's) at most once, and only when a rule reads it.
      let payload: unknown;
      let parsed = false;
      for (const { index, rule, keys, pattern } of this.#rules) {
        let value: unknown;
        const [first, ...rest] = keys;
        if (first === 'payload') {
          if (!parsed) {
            payload = record.payload;
            parsed = true;
          }
          value = at(payload, rest);
        } else value = record[first as 'id' | 'key' | 'source' | 'ts'];
        if (!matches(rule, pattern, value)) continue;
        chosen ??= [];
        chosen.push(index);
      }
    }
    if (chosen !== undefined) return chosen.length === 1 ? chosen[0]! : chosen;
    if (this.#default !== undefined) return this.#default;
    return { unknown: 'no route was named, no when rule matched and there is no defaultRoute' };
  }

  #byName(named: string | readonly string[]): RouteChoice {
    if (typeof named === 'string') {
      const index = this.#index.get(named);
      return index ?? { unknown: this.#unknown([named]) };
    }
    const indexes: number[] = [];
    const unknown: string[] = [];
    for (const name of named) {
      const index = this.#index.get(name);
      if (index === undefined) unknown.push(name);
      else if (!indexes.includes(index)) indexes.push(index);
    }
    if (unknown.length > 0) return { unknown: this.#unknown(unknown) };
    return indexes.length === 1 ? indexes[0]! : indexes;
  }

  #unknown(names: string[]): string {
    // A transform's bad output may carry any number of names, of any length: the reason names a few.
    const shown = names.slice(0, 3).map((n) => JSON.stringify(n.length > 80 ? `${n.slice(0, 80)}…` : n));
    const more = names.length > 3 ? ` and ${names.length - 3} more` : '';
    return `no route named ${shown.join(', ')}${more} (routes: ${this.names.join(', ')})`;
  }
}

function at(value: unknown, keys: readonly string[]): unknown {
  let v = value;
  for (const key of keys) {
    if (v === null || typeof v !== 'object') return undefined;
    if (Array.isArray(v)) {
      if (!/^\d+$/.test(key)) return undefined;
      v = v[Number(key)];
    } else v = Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

function matches(rule: ResolvedRouteRule, pattern: RegExp | undefined, value: unknown): boolean {
  if (pattern !== undefined) return typeof value === 'string' && pattern.test(value);
  if (rule.in !== undefined) return rule.in.some((candidate) => same(candidate, value));
  return same(rule.equals ?? null, value);
}

/** Strict equality of JSON scalars; an absent field matches nothing, not even null. */
function same(expected: RouteScalar, value: unknown): boolean {
  return value !== undefined && value === expected;
}
