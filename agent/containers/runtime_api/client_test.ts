import { deepEqual, equal, ok } from "node:assert/strict";
import { classifyFetchError, RuntimeApiClient, type RuntimeApiClientOptions } from "./client.ts";
import type { ApiErrorReason } from "./client.ts";
import { json, libpodAnswer, missingSocket, mockApi, notFound, recorded } from "./_mock.ts";
import { RECORDED_ID } from "./_mock.ts";

const ID = "b".repeat(64);

/** A client with a manual clock that records its callbacks. */
function client(socket: string, o: Partial<RuntimeApiClientOptions> = {}) {
  const clock = { ms: 1_000_000 };
  const errors: ApiErrorReason[] = [];
  const events: string[] = [];
  const c = new RuntimeApiClient({
    runtime: "podman",
    socket,
    timeoutMs: 300,
    now: () => clock.ms,
    onError: (r) => errors.push(r),
    onDown: (r) => events.push(`down:${r}`),
    onUp: () => events.push("up"),
    ...o,
  });
  return { c, clock, errors, events };
}

Deno.test("found: libpod path, placeholder host, the recorded answer parsed; cached per id", async () => {
  const api = mockApi(() => json(JSON.stringify(recorded("libpod"))));
  const { c, errors } = client(api.path);
  try {
    const r = await c.inspect(RECORDED_ID);
    equal(r.kind, "found");
    if (r.kind !== "found") return;
    equal(r.container.labels["io.kubernetes.pod.name"], "web-6d4cf56db6-x2x8p");
    deepEqual(api.requests, [{
      method: "GET",
      path: `/v4.0.0/libpod/containers/${RECORDED_ID}/json`,
      host: "d",
    }]);
    equal((await c.inspect(RECORDED_ID)).kind, "found");
    equal(api.requests.length, 1, "the second answer came from the cache");
    deepEqual(errors, []);
  } finally {
    c.close();
    await api.close();
  }
});

Deno.test("docker: the Engine API path; concurrent inspects of one id share one request", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const api = mockApi(async (req) => {
    await gate;
    const id = new URL(req.url).pathname.split("/")[2];
    const doc = recorded("compat");
    doc.Id = id;
    return json(JSON.stringify(doc));
  });
  const { c } = client(api.path, { runtime: "docker" });
  try {
    const all = [c.inspect(ID), c.inspect(ID), c.inspect(ID)];
    await new Promise((r) => setTimeout(r, 50));
    release();
    const rs = await Promise.all(all);
    ok(rs.every((r) => r.kind === "found"));
    deepEqual(api.requests.map((r) => r.path), [`/containers/${ID}/json`]);
  } finally {
    c.close();
    await api.close();
  }
});

Deno.test("404: absent, counted, remembered for a while, then asked again", async () => {
  const api = mockApi(() => notFound(ID));
  const { c, clock, errors, events } = client(api.path, { absentTtlMs: 10_000 });
  try {
    deepEqual(await c.inspect(ID), { kind: "absent", reason: "not_found" });
    deepEqual(await c.inspect(ID), { kind: "absent", reason: "not_found" });
    equal(api.requests.length, 1);
    clock.ms += 10_001;
    deepEqual(await c.inspect(ID), { kind: "absent", reason: "not_found" });
    equal(api.requests.length, 2);
    deepEqual(errors, ["not_found", "not_found"]);
    deepEqual(events, [], "a 404 is the container's, not the socket's");
    equal(c.down, false);
  } finally {
    c.close();
    await api.close();
  }
});

Deno.test("garbage JSON, an answer for another id, a 500 and huge bodies: absent, counted", async () => {
  const answers: Record<string, () => Response> = {
    ["1".repeat(64)]: () => json("{not json"),
    ["2".repeat(64)]: () => json(libpodAnswer("f".repeat(64))),
    ["3".repeat(64)]: () => json('{"message":"boom"}', 500),
    ["4".repeat(64)]: () => json(`{"Id":"${"4".repeat(64)}","x":"${"y".repeat(2048)}"}`),
    ["5".repeat(64)]: () => new Response("<html>proxy</html>", { status: 200 }),
    // streamed (chunked, no content-length) past the cap
    ["6".repeat(64)]: () =>
      new Response(
        new ReadableStream({
          pull(ctl) {
            ctl.enqueue(new TextEncoder().encode(`{"Id":"${"6".repeat(64)}","x":"`));
            ctl.enqueue(new Uint8Array(2048).fill(0x79));
            ctl.close();
          },
        }),
      ),
  };
  const api = mockApi((req) => answers[new URL(req.url).pathname.split("/")[4]]());
  const { c, errors, events } = client(api.path, { maxBodyBytes: 1024 });
  try {
    deepEqual(await c.inspect("1".repeat(64)), { kind: "absent", reason: "malformed" });
    deepEqual(await c.inspect("2".repeat(64)), { kind: "absent", reason: "malformed" });
    deepEqual(await c.inspect("3".repeat(64)), { kind: "absent", reason: "http_status" });
    deepEqual(await c.inspect("4".repeat(64)), { kind: "absent", reason: "malformed" });
    deepEqual(await c.inspect("5".repeat(64)), { kind: "absent", reason: "malformed" });
    deepEqual(await c.inspect("6".repeat(64)), { kind: "absent", reason: "malformed" });
    deepEqual(errors, [
      "malformed",
      "malformed",
      "http_status",
      "malformed",
      "malformed",
      "malformed",
    ]);
    deepEqual(events, []);
  } finally {
    c.close();
    await api.close();
  }
});

Deno.test("timeout: counted, the socket backs off (no requests), then is asked again", async () => {
  let slow = true;
  const api = mockApi(async () => {
    if (slow) await new Promise((r) => setTimeout(r, 1000));
    return json(libpodAnswer(ID));
  });
  const { c, clock, errors, events } = client(api.path, {
    timeoutMs: 100,
    backoffMinMs: 1000,
    backoffMaxMs: 4000,
  });
  try {
    const t0 = performance.now();
    deepEqual(await c.inspect(ID), { kind: "unavailable", reason: "timeout" });
    ok(performance.now() - t0 < 900, "the timeout, not the server, ended the request");
    deepEqual(errors, ["timeout"]);
    deepEqual(events, ["down:timeout"]);
    equal(c.down, true);
    // backing off: nothing is sent, nothing more is counted
    deepEqual(await c.inspect("c".repeat(64)), { kind: "unavailable", reason: "backoff" });
    equal(api.requests.length, 1);
    equal(errors.length, 1);
    clock.ms += 1000;
    slow = false;
    equal((await c.inspect(ID)).kind, "found");
    deepEqual(events, ["down:timeout", "up"]);
    equal(c.down, false);
  } finally {
    c.close();
    await new Promise((r) => setTimeout(r, 1100)); // let the slow handler finish
    await api.close();
  }
});

Deno.test("socket missing: socket_missing once per attempt, backoff doubling to its cap", async () => {
  const gone = missingSocket();
  const { c, clock, errors, events } = client(gone.path, {
    backoffMinMs: 1000,
    backoffMaxMs: 4000,
  });
  try {
    const at: number[] = [];
    for (let t = 0; t <= 20_000; t += 250) {
      const r = await c.inspect(ID);
      if (r.kind === "unavailable" && r.reason !== "backoff") at.push(t);
      clock.ms += 250;
    }
    // attempts at 0, +1 s, +2 s, +4 s, then every 4 s
    deepEqual(at, [0, 1000, 3000, 7000, 11000, 15000, 19000]);
    ok(errors.every((e) => e === "socket_missing"), errors.join());
    equal(errors.length, at.length);
    deepEqual(events, ["down:socket_missing"], "reported once, not per attempt");
  } finally {
    c.close();
    gone.cleanup();
  }
});

Deno.test("a socket that appears later is used once the backoff is over", async () => {
  const gone = missingSocket();
  const { c, clock, events } = client(gone.path, { backoffMinMs: 1000 });
  let server: Deno.HttpServer | undefined;
  try {
    equal((await c.inspect(ID)).kind, "unavailable");
    server = Deno.serve(
      { transport: "unix", path: gone.path, onListen() {} },
      () => json(libpodAnswer(ID)),
    );
    equal((await c.inspect(ID)).kind, "unavailable", "still backing off");
    clock.ms += 1000;
    equal((await c.inspect(ID)).kind, "found");
    deepEqual(events, ["down:socket_missing", "up"]);
  } finally {
    c.close();
    await server?.shutdown();
    gone.cleanup();
  }
});

Deno.test("close: later inspects answer unavailable without a request", async () => {
  const api = mockApi(() => json(libpodAnswer(ID)));
  const { c, errors } = client(api.path);
  try {
    c.close();
    deepEqual(await c.inspect(ID), { kind: "unavailable", reason: "backoff" });
    equal(api.requests.length, 0);
    deepEqual(errors, []);
  } finally {
    await api.close();
  }
});

Deno.test("a relative socket path is refused", () => {
  let err: unknown;
  try {
    new RuntimeApiClient({ runtime: "docker", socket: "run/docker.sock" });
  } catch (e) {
    err = e;
  }
  ok(err instanceof TypeError && /absolute/.test(err.message));
});

Deno.test("classifyFetchError: Deno's connection errors by errno, timeouts, the rest", () => {
  const fetchFailed = (msg: string) => new TypeError("fetch failed", { cause: new Error(msg) });
  const cases: [unknown, ApiErrorReason][] = [
    [
      fetchFailed("client error (Connect): No such file or directory (os error 2)"),
      "socket_missing",
    ],
    [fetchFailed("client error (Connect): Connection refused (os error 111)"), "refused"],
    [fetchFailed("client error (Connect): Permission denied (os error 13)"), "permission"],
    [fetchFailed("client error (Connect): something else"), "connect"],
    [fetchFailed("client error (SendRequest): invalid HTTP version parsed"), "protocol"],
    [new DOMException("The operation was aborted due to timeout", "TimeoutError"), "timeout"],
    [new Deno.errors.NotCapable("Requires net access"), "permission"],
    ["a string", "protocol"],
  ];
  for (const [err, want] of cases) equal(classifyFetchError(err), want, String(err));
});
