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
 * changed in place), a property is defined, or a key JSON.stringify would put first (an integer
 * index) or `__proto__` is set. Members the transform added are serialised at the end, so changes
 * to objects it set are kept.
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
  /** Before the parse: members set that the text does not hold, in the order they were set. */
  #pending: Map<string, unknown> | undefined;
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
    let added: Record<string, unknown> | undefined;
    if (object === undefined) {
      if (lazy.#pending !== undefined) added = Object.fromEntries(lazy.#pending);
    } else if (lazy.#addedKeys !== undefined && lazy.#addedKeys.length > 0) {
      added = {};
      for (const key of lazy.#addedKeys) added[key] = object[key];
    }
    if (added === undefined) return lazy.#text;
    const members = JSON.stringify(added);
    // Every added value undefined (or a function): JSON leaves them out, as it would have.
    if (members.length === 2) return lazy.#text;
    return splice(lazy.#text, members);
  }

  #parse(): Record<PropertyKey, unknown> {
    if (this.#object !== undefined) return this.#object;
    const object = JSON.parse(this.#text) as Record<PropertyKey, unknown>;
    const pending = this.#pending;
    if (pending !== undefined) {
      // Defined, not assigned: none of these keys is __proto__ (see #set), but defining keeps it so.
      for (const [key, value] of pending) {
        Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
      }
      this.#addedKeys = [...pending.keys()];
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
    return !this.#plain || this.#text.includes(JSON.stringify(key));
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
    if (lazy.#object === undefined && lazy.#pending !== undefined && typeof key === 'string') {
      if (lazy.#pending.has(key)) return lazy.#pending.get(key);
    }
    const object = lazy.#parse();
    const value = object[key];
    lazy.#reading(key, value);
    return value;
  }

  static #set(lazy: LazyPayload, key: PropertyKey, value: unknown): boolean {
    const ordinary = typeof key === 'string' && key !== '__proto__' && !INDEX_KEY.test(key);
    if (lazy.#object === undefined && ordinary && !lazy.#mayHold(key)) {
      lazy.#pending ??= new Map();
      lazy.#pending.set(key, value);
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
    if (lazy.#object === undefined && typeof key === 'string' && lazy.#pending?.delete(key)) return true;
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
        if (lazy.#object === undefined && typeof key === 'string' && lazy.#pending?.has(key)) return true;
        return key in lazy.#parse();
      },
      deleteProperty: (lazy, key) => LazyPayload.#delete(lazy, key),
      ownKeys: (lazy) => Reflect.ownKeys(lazy.#parse()),
      getOwnPropertyDescriptor: (lazy, key) => LazyPayload.#describe(lazy, key),
      defineProperty: (lazy, key, descriptor) => LazyPayload.#define(lazy, key, descriptor),
      getPrototypeOf: (lazy) =>
        lazy.#object === undefined ? Object.prototype : Reflect.getPrototypeOf(lazy.#object),
      setPrototypeOf: (lazy, prototype) => Reflect.setPrototypeOf(lazy.#parse(), prototype),
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

/** `text` (a JSON object) with `members` (a JSON object's text) added before its closing brace. */
function splice(text: string, members: string): string {
  const close = text.lastIndexOf('}');
  let i = close - 1;
  let c = text.charCodeAt(i);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(--i);
  const separator = c === 0x7b ? '' : ',';
  return `${text.slice(0, close)}${separator}${members.slice(1, -1)}${text.slice(close)}`;
}
