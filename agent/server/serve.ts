/**
 * Binds the app to a socket with `Deno.serve`, the only place the server opens one.
 *
 * @module
 */
import { formatListen, type ListenAddress } from "./listen.ts";

/** Anything with a fetch handler, such as a Hono app. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  /** Address to bind, e.g. from {@linkcode parseListen}. */
  hostname: string;
  /** Port to bind; 0 lets the kernel pick (see `onListen` / `addr`). */
  port: number;
  /** Aborting it stops accepting connections and lets in-flight requests finish. */
  signal?: AbortSignal;
  /** Called once the socket is bound, with the actual address. */
  onListen?: (addr: ListenAddress) => void;
}

/** A listening server. */
export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: ListenAddress;
  /** Settles when the server has shut down. */
  readonly finished: Promise<void>;
  /** Stops accepting connections and waits for in-flight requests. */
  shutdown(): Promise<void>;
}

/**
 * Serves `app` until `signal` aborts. Async so that bind failures arrive as rejections.
 *
 * @throws {Deno.errors.AddrInUse} when the address is taken, saying which.
 * @throws {Deno.errors.NotCapable} when net permission is missing, naming the
 *   `--allow-net=host:port` flag that grants it.
 * @throws {Deno.errors.AddrNotAvailable} when the host has no such address.
 */
// deno-lint-ignore require-await
export async function serve(app: FetchApp, opts: ServeOptions): Promise<RunningServer> {
  const where = formatListen(opts);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      signal: opts.signal,
      // Replaces Deno's default "Listening on" console line; the caller logs instead.
      onListen: () => {},
    }, (request) => app.fetch(request));
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new Deno.errors.AddrInUse(
        `Cannot listen on ${where}: the address is already in use (another agent or exporter?)`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.NotCapable) {
      throw new Deno.errors.NotCapable(
        `Cannot listen on ${where}: network permission is missing; run with --allow-net=${where}`,
        { cause: e },
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable) {
      throw new Deno.errors.AddrNotAvailable(
        `Cannot listen on ${where}: this host has no such address`,
        { cause: e },
      );
    }
    throw e;
  }
  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  opts.onListen?.(addr);
  return { addr, finished: server.finished, shutdown: () => server.shutdown() };
}
