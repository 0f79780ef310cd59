/**
 * Test helpers: a mock runtime API served on a temporary unix socket, and the inspect answers
 * recorded from Podman 4.3's `podman system service` (sanitized: a made-up id and name) to
 * serve from it.
 *
 * The fixtures under testdata/ were recorded with
 * `curl --unix-socket <sock> http://d/v4.0.0/libpod/containers/<id>/json` (libpod) and
 * `http://d/containers/<id>/json` (the Docker-compatible API) for a container run with
 * `--label team=payments` and the three `io.kubernetes.*` pod labels.
 *
 * @module
 */

/** The id of the recorded container. */
export const RECORDED_ID = "7e57ab1e0c0ffee0d15ea5edba5eba11c0de5eedfacade0ddba11ad0be5e1e55";

const TESTDATA = new URL("./testdata/", import.meta.url);

/** The recorded inspect document of one API, parsed, so a test can edit it. */
export function recorded(api: "libpod" | "compat"): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(new URL(`podman-4.3-${api}-inspect.json`, TESTDATA)));
}

/** The recorded libpod answer for another id, name and labels. */
export function libpodAnswer(
  id: string,
  o: { name?: string; labels?: Record<string, string> } = {},
): string {
  const doc = recorded("libpod");
  doc.Id = id;
  if (o.name !== undefined) doc.Name = o.name;
  if (o.labels !== undefined) (doc.Config as Record<string, unknown>).Labels = o.labels;
  return JSON.stringify(doc);
}

/** One request the mock saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
}

/** A mock API on a unix socket. */
export interface MockApi {
  /** The socket's absolute path. */
  readonly path: string;
  readonly requests: SeenRequest[];
  /** Stops serving and removes the socket's directory. */
  close(): Promise<void>;
}

/** Serves `handler` on a fresh socket in a temporary directory. */
export function mockApi(handler: (req: Request) => Response | Promise<Response>): MockApi {
  const dir = Deno.makeTempDirSync({ prefix: "osprey-runtime-api-" });
  const path = `${dir}/api.sock`;
  const requests: SeenRequest[] = [];
  const server = Deno.serve(
    { transport: "unix", path, onListen() {} },
    (req) => {
      const url = new URL(req.url);
      requests.push({
        method: req.method,
        path: url.pathname,
        host: req.headers.get("host") ?? "",
      });
      return handler(req);
    },
  );
  return {
    path,
    requests,
    async close() {
      await server.shutdown();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** A JSON answer. */
export function json(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

/** Podman's 404 for an unknown container. */
export function notFound(id: string): Response {
  return json(
    JSON.stringify({
      cause: "no such container",
      message: `no container with name or ID "${id}" found: no such container`,
      response: 404,
    }),
    404,
  );
}

/** A path that is not a socket and never will be (in a fresh temporary directory). */
export function missingSocket(): { path: string; cleanup(): void } {
  const dir = Deno.makeTempDirSync({ prefix: "osprey-runtime-api-" });
  return { path: `${dir}/gone.sock`, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}
