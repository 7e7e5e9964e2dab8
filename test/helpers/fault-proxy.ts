/**
 * A TCP proxy for outage tests: listens on 127.0.0.1 (a free port) and forwards every connection
 * to a target. `cut()` breaks the link as a failed network would — each live connection is reset,
 * and connections made while it is cut are reset as soon as they arrive — until `restore()`.
 */
import net from 'node:net';

export interface FaultProxyCounters {
  /** Connections forwarded to the target. */
  accepted: number;
  /** Live connections reset by cut(). */
  cut: number;
  /** Connections reset on arrival because the proxy was cut. */
  refused: number;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

export class FaultProxy {
  readonly counters: FaultProxyCounters = { accepted: 0, cut: 0, refused: 0 };
  readonly #server: net.Server;
  readonly #links = new Set<Link>();
  #down = false;

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

  /** Whether it is cut now. */
  get isCut(): boolean {
    return this.#down;
  }

  /** Resets every live connection and every new one until restore(). */
  cut(): void {
    this.#down = true;
    for (const link of this.#links) {
      this.#links.delete(link);
      this.counters.cut++;
      // An RST, not a FIN: the client sees its connection fail, not end politely.
      if (!link.client.destroyed) link.client.resetAndDestroy();
      link.upstream.destroy();
    }
  }

  /** Forwards new connections again (the ones cut stay gone). */
  restore(): void {
    this.#down = false;
  }

  /** Resets every connection and stops listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket, target: { host: string; port: number }): void {
    // Errors are the expected outcome of a cut; a socket without a listener would throw them.
    client.on('error', () => {});
    if (this.#down) {
      this.counters.refused++;
      client.resetAndDestroy();
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
    this.#links.delete(link);
    if (other.destroyed) return;
    if (hadError) other.destroy();
    else other.end();
  }
}
