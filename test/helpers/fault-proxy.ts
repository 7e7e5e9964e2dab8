/**
 * A TCP proxy for outage tests: listens on 127.0.0.1 (a free port) and forwards every connection
 * to a target. It breaks the link in one of two ways until `restore()`:
 * - `cut()`, as a failed network would: each live connection is reset, and connections made while
 *   it is cut are reset as soon as they arrive;
 * - `blackhole()`, as a hung server would: connections are accepted and every byte they send is
 *   read and dropped, and nothing ever comes back — no answer, no close;
 * - `strandLive()`, as a peer gone half-open would: the live connections are silenced so, while
 *   new ones are forwarded.
 */
import net from 'node:net';

export interface FaultProxyCounters {
  /** Connections forwarded to the target. */
  accepted: number;
  /** Live connections reset by cut(). */
  cut: number;
  /** Connections reset on arrival because the proxy was cut. */
  refused: number;
  /** Connections silenced by blackhole() or strandLive(), live ones and ones that arrived while it lasted. */
  swallowed: number;
}

/** How the proxy treats connections right now. */
export type FaultProxyMode = 'forward' | 'cut' | 'blackhole';

interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

export class FaultProxy {
  readonly counters: FaultProxyCounters = { accepted: 0, cut: 0, refused: 0, swallowed: 0 };
  readonly #server: net.Server;
  readonly #links = new Set<Link>();
  /** Client sockets that blackhole() silenced. */
  readonly #silenced = new Set<net.Socket>();
  #mode: FaultProxyMode = 'forward';

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** Starts a proxy to `host:port`; resolves once it listens. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = net.createServer();
    const proxy = new FaultProxy(server);
    server.on('connection', (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Whether it forwards, is cut, or is a black hole now. */
  get mode(): FaultProxyMode {
    return this.#mode;
  }

  /** Whether it is cut now. */
  get isCut(): boolean {
    return this.#mode === 'cut';
  }

  /** Resets every live connection (silenced ones too) and every new one until restore(). */
  cut(): void {
    this.#mode = 'cut';
    for (const link of this.#links) {
      this.#links.delete(link);
      this.counters.cut++;
      // An RST, not a FIN: the client sees its connection fail, not end politely.
      if (!link.client.destroyed) link.client.resetAndDestroy();
      link.upstream.destroy();
    }
    this.#resetSilenced(true);
  }

  /**
   * Stops answering: each live connection stops being forwarded either way, and new ones are
   * accepted but never forwarded. What clients send is read and dropped; they get nothing back,
   * and their connections stay open until restore(), cut() or close().
   */
  blackhole(): void {
    this.#mode = 'blackhole';
    this.#silenceLinks();
  }

  /**
   * Silences every live connection as blackhole() does, and goes on forwarding new ones: a peer
   * gone half-open (a server host replaced behind its address, a NAT or firewall that forgot the
   * flow) — the old connections never answer again and are never closed, while a fresh connection
   * reaches the server. They stay silent until cut() or close().
   */
  strandLive(): void {
    this.#silenceLinks();
  }

  /**
   * Forwards new connections again. Connections cut stay gone; connections the black hole
   * silenced are reset, since what they sent was dropped and nothing can follow on them.
   */
  restore(): void {
    this.#mode = 'forward';
    this.#resetSilenced(false);
  }

  /** Resets every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket, target: { host: string; port: number }): void {
    // Errors are the expected outcome of a cut; a socket without a listener would throw them.
    client.on('error', () => {});
    if (this.#mode === 'cut') {
      this.counters.refused++;
      client.resetAndDestroy();
      return;
    }
    if (this.#mode === 'blackhole') {
      this.#silence(client);
      return;
    }
    this.counters.accepted++;
    const upstream = net.connect(target.port, target.host);
    upstream.on('error', () => {});
    const link = { client, upstream };
    this.#links.add(link);
    client.pipe(upstream);
    upstream.pipe(client);
    // One side closing closes the other the same way: politely after a clean close, else at once.
    client.once('close', (hadError) => this.#unlink(link, upstream, hadError));
    upstream.once('close', (hadError) => this.#unlink(link, client, hadError));
  }

  #unlink(link: Link, other: net.Socket, hadError: boolean): void {
    // A link already taken out (by cut() or blackhole()) is theirs to finish.
    if (!this.#links.delete(link)) return;
    if (other.destroyed) return;
    if (hadError) other.destroy();
    else other.end();
  }

  #silenceLinks(): void {
    for (const link of this.#links) {
      // Out of the set first, so the upstream's close below does not close the client too.
      this.#links.delete(link);
      link.client.unpipe(link.upstream);
      link.upstream.unpipe(link.client);
      link.upstream.destroy();
      this.#silence(link.client);
    }
  }

  #silence(client: net.Socket): void {
    this.counters.swallowed++;
    this.#silenced.add(client);
    // Reading and dropping, rather than not reading, keeps the client's writes from ever blocking
    // on a full window: from its side the server took every byte.
    client.on('data', () => {});
    client.resume();
    // The black hole never closes first; a client that closes its side has that close answered
    // (the socket does not allow half-open), so its own close can finish, and is forgotten.
    client.once('close', () => this.#silenced.delete(client));
  }

  #resetSilenced(countAsCut: boolean): void {
    for (const client of this.#silenced) {
      this.#silenced.delete(client);
      if (countAsCut) this.counters.cut++;
      if (!client.destroyed) client.resetAndDestroy();
    }
  }
}
