import { equal, match, rejects } from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { createApp } from "./app.ts";
import { serve } from "./serve.ts";

Deno.test("serve() listens on port 0, answers, and shuts down when the signal aborts", async () => {
  const ctl = new AbortController();
  let announced: { hostname: string; port: number } | undefined;
  const server = await serve(createApp({ registry: new Registry(), ready: () => true }), {
    hostname: "127.0.0.1",
    port: 0,
    signal: ctl.signal,
    onListen: (addr) => announced = addr,
  });
  equal(server.addr.hostname, "127.0.0.1");
  equal(announced?.port, server.addr.port);
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
  equal(await res.text(), "ok\n");
  ctl.abort();
  await server.finished;
  await rejects(fetch(`http://127.0.0.1:${server.addr.port}/healthz`));
});

Deno.test("serve() says the address is in use", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  await rejects(
    () => serve({ fetch: () => new Response() }, { hostname: "127.0.0.1", port }),
    (e: unknown) => {
      equal(e instanceof Deno.errors.AddrInUse, true);
      match(
        (e as Error).message,
        new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`),
      );
      return true;
    },
  );
});

Deno.test({
  name: "serve() names the --allow-net flag when net permission is missing",
  permissions: { net: false },
  async fn() {
    await rejects(
      () => serve({ fetch: () => new Response() }, { hostname: "::", port: 9 }),
      (e: unknown) => {
        equal(e instanceof Deno.errors.NotCapable, true);
        equal(
          (e as Error).message,
          "Cannot listen on [::]:9: network permission is missing; run with --allow-net=[::]:9",
        );
        return true;
      },
    );
  },
});
