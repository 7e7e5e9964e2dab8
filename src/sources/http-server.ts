import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { send } from './http-reply.js';

/** Handles one request; `awaitingContinue`: its client waits for `100 Continue` to send the body. */
export type RequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  awaitingContinue: boolean,
) => Promise<void>;

/**
 * The HTTP server's lifecycle: listen, hand every request to the handler while counting the ones
 * being handled, and close — stop accepting, wait for the requests being handled, close the rest.
 * A handler that throws is logged and its request answered 500, if it was not answered yet.
 */
export class RequestServer {
  readonly #server: Server;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(handle: RequestHandler, logger: Logger) {
    const serve = (req: IncomingMessage, res: ServerResponse, awaitingContinue: boolean) => {
      const handling = handle(req, res, awaitingContinue).catch((error: unknown) => {
        logger.error({ err: error }, 'http source request failed');
        if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      });
      this.#inFlight.add(handling);
      handling.finally(() => this.#inFlight.delete(handling));
    };
    this.#server = createServer((req, res) => serve(req, res, false));
    // `Expect: 100-continue` (curl's way with a large body): 100 Continue is sent only once the
    // request passed every check that needs no body, so a refused client never sends its body.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => serve(req, res, true));
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Binds; resolves with the bound URL (`http://127.0.0.1:41234`, an IPv6 host in brackets). */
  async listen(port: number, host: string): Promise<string> {
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const bound = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${bound}:${address.port}`;
  }

  /**
   * Stops accepting connections, lets the requests being handled finish, then closes the rest.
   * Call it once nothing a handler waits on is waited for any longer (the source stopped), so that
   * each answers and ends and none is left behind.
   */
  async close(): Promise<void> {
    const server = this.#server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    server.closeAllConnections();
    await closed;
  }
}
