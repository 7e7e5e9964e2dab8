import { inspect } from 'node:util';

/** The traps every LazyPayload's proxy shares (each proxy's target is its LazyPayload). */
let HANDLER: ProxyHandler<LazyPayload>;

/**
 * A payload handed to a transform as a view over its JSON text, parsed only when the transform
 * reads it — for transforms that declare `lazyPayload` (src/transforms/transform.ts).
 *
 * What it saves: a transform that only adds top-level members (`payload.ingestedBy = 'x'`) never
 * makes the text parse, and the payload is written as its own text with the new members spliced in
 * before the closing brace — no parse, no second serialisation, no object graph to collect. A
 * transform that reads top-level members holding strings, numbers, booleans or null parses it, but
 * the text is still what is written: numbers beyond double precision stay exact.
 *
 * When the text stops describing the payload, it is serialised as any object would be: once an
 * original member is changed or deleted, a member holding an object or array is read (it could be
 * changed in place), a property is defined, a key JSON.stringify would put first (an integer
 * index), `__proto__` or a `toJSON` function is set, or the prototype is changed (JSON.stringify calls
 * a `toJSON` the object has, its own or inherited, and writes what it returns instead: a transform
 * that redacts a payload that way must not have the original text written). Members the transform
 * added are serialised at the end, so changes to objects it set are kept.
 *
 * It is a Proxy: `structuredClone` and `postMessage` refuse it (a transform that needs to should
 * copy it first, `{ ...payload }`), which is why transforms opt in. `util.inspect` and
 * `console.log` show the parsed members.
 */
export class LazyPayload {
  /** The payload's JSON text: an object, as push() serialised it or a line held it. */
  readonly #text: string;
  /** The parsed payload once anything needed it (the target itself once materialised). */
  #object: Record<PropertyKey, unknown> | undefined;
  /**
   * Before the parse: members set that the text does not hold, in the order they were set, as
   * key, value, key, value… (a transform adds one or two: a flat list is the cheapest to keep).
   */
  #pending: unknown[] | undefined;
  /** After the parse: the keys of members set that the text does not hold. */
  #addedKeys: string[] | undefined;
  /** The text no longer describes the payload's own members: serialise the object instead. */
  #dirty = false;
  /** The text holds no backslash, so a key can only be written one way (see #mayHold). */
  #plain: boolean | undefined;
  readonly #proxy: Record<string, unknown>;

  private constructor(text: string) {
    this.#text = text;
    this.#proxy = new Proxy(this, HANDLER) as unknown as Record<string, unknown>;
  }

  /** A lazy view over `text` when it is a JSON object (not an array or a scalar), else undefined. */
  static over(text: string): LazyPayload | undefined {
    let i = 0;
    let c = text.charCodeAt(0);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
    return c === 0x7b ? new LazyPayload(text) : undefined;
  }

  /** What the transform is given as `event.payload`. */
  static proxyOf(lazy: LazyPayload): Record<string, unknown> {
    return lazy.#proxy;
  }

  /**
   * The payload's JSON as it stands after the transform: its text when nothing changed it, the
   * text with the added members spliced in, or the object serialised. Throws as JSON.stringify
   * does for a member that cannot be serialised (a BigInt, a cycle).
   */
  static json(lazy: LazyPayload): string {
    const object = lazy.#object;
    if (lazy.#dirty) return JSON.stringify(object);
    let members = '';
    if (object === undefined) {
      const pending = lazy.#pending;
      if (pending !== undefined) {
        for (let i = 0; i < pending.length; i += 2)
          members = member(members, pending[i] as string, pending[i + 1]);
      }
    } else if (lazy.#addedKeys !== undefined) {
      for (const key of lazy.#addedKeys) members = member(members, key, object[key]);
    }
    // Nothing added, or every added value undefined (or a function): JSON leaves them out.
    return members === '' ? lazy.#text : splice(lazy.#text, members);
  }

  #parse(): Record<PropertyKey, unknown> {
    if (this.#object !== undefined) return this.#object;
    const object = JSON.parse(this.#text) as Record<PropertyKey, unknown>;
    const pending = this.#pending;
    if (pending !== undefined) {
      // Defined, not assigned: none of these keys is __proto__ (see #set), but defining keeps it so.
      const keys: string[] = [];
      for (let i = 0; i < pending.length; i += 2) {
        const key = pending[i] as string;
        Object.defineProperty(object, key, {
          value: pending[i + 1],
          writable: true,
          enumerable: true,
          configurable: true,
        });
        keys.push(key);
      }
      this.#addedKeys = keys;
      this.#pending = undefined;
    }
    this.#object = object;
    return object;
  }

  /**
   * Whether the text may hold a member named `key`. Without a backslash in the text, a key can be
   * written only as JSON.stringify writes it (a character that must be escaped cannot appear), so
   * not finding that is proof; a match anywhere (a value, a nested key) only means maybe.
   */
  #mayHold(key: string): boolean {
    this.#plain ??= !this.#text.includes('\\');
    return !this.#plain || this.#text.includes(quoted(key));
  }

  /** Where `key` is in #pending (its key's index), or -1. */
  #pendingAt(key: PropertyKey): number {
    const pending = this.#pending;
    if (pending === undefined) return -1;
    for (let i = 0; i < pending.length; i += 2) if (pending[i] === key) return i;
    return -1;
  }

  #isAdded(key: string): boolean {
    return this.#addedKeys?.includes(key) === true;
  }

  /** Marks the text stale when `value`, read from original member `key`, could be changed in place. */
  #reading(key: PropertyKey, value: unknown): void {
    if (
      typeof value === 'object' &&
      value !== null &&
      !this.#dirty &&
      typeof key === 'string' &&
      !this.#isAdded(key) &&
      Object.hasOwn(this.#object!, key)
    ) {
      this.#dirty = true;
    }
  }

  static #get(lazy: LazyPayload, key: PropertyKey): unknown {
    if (key === SELF) return lazy;
    if (lazy.#object === undefined && lazy.#pending !== undefined) {
      const at = lazy.#pendingAt(key);
      if (at >= 0) return lazy.#pending[at + 1];
    }
    const object = lazy.#parse();
    const value = object[key];
    lazy.#reading(key, value);
    return value;
  }

  static #set(lazy: LazyPayload, key: PropertyKey, value: unknown): boolean {
    // Not ordinary: `__proto__` sets the prototype, an index key is written first, and a `toJSON`
    // function is not a member JSON leaves out but what JSON.stringify calls, writing what it
    // returns in the payload's place.
    const ordinary =
      typeof key === 'string' &&
      key !== '__proto__' &&
      !isIndexKey(key) &&
      !(key === 'toJSON' && typeof value === 'function');
    if (lazy.#object === undefined && ordinary && !lazy.#mayHold(key)) {
      const at = lazy.#pendingAt(key);
      if (at >= 0) lazy.#pending![at + 1] = value;
      else if (lazy.#pending === undefined) lazy.#pending = [key, value];
      else lazy.#pending.push(key, value);
      return true;
    }
    const object = lazy.#parse();
    const had = Object.hasOwn(object, key);
    const before = had ? object[key] : undefined;
    if (!Reflect.set(object, key, value)) return false;
    if (typeof key === 'string' && !lazy.#dirty) {
      if (!ordinary) lazy.#dirty = true;
      else if (!had) {
        lazy.#addedKeys ??= [];
        lazy.#addedKeys.push(key);
      } else if (!lazy.#isAdded(key) && !Object.is(before, value)) lazy.#dirty = true;
    }
    return true;
  }

  static #delete(lazy: LazyPayload, key: PropertyKey): boolean {
    if (lazy.#object === undefined) {
      const at = lazy.#pendingAt(key);
      if (at >= 0) {
        lazy.#pending!.splice(at, 2);
        return true;
      }
    }
    const object = lazy.#parse();
    const had = typeof key === 'string' && Object.hasOwn(object, key);
    if (!Reflect.deleteProperty(object, key)) return false;
    if (had) {
      const at = lazy.#addedKeys?.indexOf(key as string) ?? -1;
      if (at >= 0) lazy.#addedKeys!.splice(at, 1);
      else lazy.#dirty = true;
    }
    return true;
  }

  static #describe(lazy: LazyPayload, key: PropertyKey): PropertyDescriptor | undefined {
    const descriptor = Reflect.getOwnPropertyDescriptor(lazy.#parse(), key);
    if (descriptor !== undefined) lazy.#reading(key, descriptor.value);
    return descriptor;
  }

  static #define(lazy: LazyPayload, key: PropertyKey, descriptor: PropertyDescriptor): boolean {
    // A property that cannot be reconfigured must exist on the proxy's target itself (the
    // invariants of Proxy), so the members move there first; defining a property is rare enough
    // not to tell the cases apart (a new one is non-configurable unless the descriptor says not).
    lazy.#materialise();
    lazy.#dirty = true;
    return Reflect.defineProperty(lazy.#object!, key, descriptor);
  }

  static #preventExtensions(lazy: LazyPayload): boolean {
    lazy.#materialise();
    return Reflect.preventExtensions(lazy);
  }

  /**
   * Moves the members onto the proxy's target (this object, which has no properties of its own —
   * its fields are private) and makes it the payload from then on: what `Object.freeze`,
   * `Object.preventExtensions` and non-configurable properties need to keep Proxy's invariants.
   */
  #materialise(): void {
    const object = this.#parse();
    if ((object as unknown) === this) return;
    for (const key of Reflect.ownKeys(object)) {
      Object.defineProperty(this, key, Reflect.getOwnPropertyDescriptor(object, key)!);
    }
    Object.setPrototypeOf(this, Object.getPrototypeOf(object));
    this.#object = this as unknown as Record<PropertyKey, unknown>;
  }

  static {
    HANDLER = {
      get: (lazy, key) => LazyPayload.#get(lazy, key),
      set: (lazy, key, value) => LazyPayload.#set(lazy, key, value),
      has: (lazy, key) => {
        if (lazy.#object === undefined && lazy.#pendingAt(key) >= 0) return true;
        return key in lazy.#parse();
      },
      deleteProperty: (lazy, key) => LazyPayload.#delete(lazy, key),
      ownKeys: (lazy) => Reflect.ownKeys(lazy.#parse()),
      getOwnPropertyDescriptor: (lazy, key) => LazyPayload.#describe(lazy, key),
      defineProperty: (lazy, key, descriptor) => LazyPayload.#define(lazy, key, descriptor),
      getPrototypeOf: (lazy) =>
        lazy.#object === undefined ? Object.prototype : Reflect.getPrototypeOf(lazy.#object),
      setPrototypeOf: (lazy, prototype) => {
        // A prototype may bring a toJSON, or setters that take what is set: serialise the object.
        const object = lazy.#parse();
        if (!Reflect.setPrototypeOf(object, prototype)) return false;
        lazy.#dirty = true;
        return true;
      },
      isExtensible: (lazy) => Reflect.isExtensible(lazy),
      preventExtensions: (lazy) => LazyPayload.#preventExtensions(lazy),
    };
  }

  /**
   * `util.inspect` formats a proxy's target without its traps, calling the target's custom
   * inspection with the proxy as `this`: show the members.
   */
  [inspect.custom](): unknown {
    const lazy = #text in this ? this : ((this as unknown as Record<symbol, unknown>)[SELF] as LazyPayload);
    return lazy.#parse();
  }
}

/** Read through the proxy, the LazyPayload behind it (for its custom inspection). */
const SELF = Symbol('LazyPayload');

/** Keys JSON.stringify writes before all others (integer indices): not appended at the end. */
const INDEX_KEY = /^(?:0|[1-9][0-9]{0,9})$/;

function isIndexKey(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 0x30 && c <= 0x39 && INDEX_KEY.test(key);
}

/** The last key quoted, and its JSON: a transform sets the same few keys on every event. */
let lastKey = '';
let lastQuoted = '""';

/** `key` as JSON writes it. */
function quoted(key: string): string {
  if (key !== lastKey) {
    lastQuoted = JSON.stringify(key);
    lastKey = key;
  }
  return lastQuoted;
}

/**
 * `members` (JSON members, comma-separated) with `key: value` appended as JSON.stringify would
 * write it in an object: left out when the value is undefined, a function or a symbol; objects
 * and BigInts go through JSON.stringify of a one-member object, so that `toJSON(key)` gets its key
 * and a BigInt throws.
 */
function member(members: string, key: string, value: unknown): string {
  let json: string | undefined;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      json = `${quoted(key)}:${JSON.stringify(value)}`;
      break;
    case 'object':
    case 'bigint':
      json = value === null ? `${quoted(key)}:null` : JSON.stringify({ [key]: value }).slice(1, -1);
      break;
    default:
      return members;
  }
  // {"k": undefined-from-toJSON} is `{}`.
  if (json === '') return members;
  return members === '' ? json : `${members},${json}`;
}

/** `text` (a JSON object) with `members` (JSON members, comma-separated) before its closing brace. */
function splice(text: string, members: string): string {
  // The last '}', found back from the end: the text is a JSON object, so only whitespace can follow
  // it (String#lastIndexOf is a runtime call in V8 11: ~0.6 % of the sqlite scenario's CPU, where
  // this is a few comparisons).
  let close = text.length - 1;
  while (close > 0 && text.charCodeAt(close) !== 0x7d) close--;
  let i = close - 1;
  let c = text.charCodeAt(i);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(--i);
  const separator = c === 0x7b ? '' : ',';
  return `${text.slice(0, close)}${separator}${members}${text.slice(close)}`;
}
