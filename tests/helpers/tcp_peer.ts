/**
 * A TCP peer for namespace tests, run inside a network namespace with
 * `ip netns exec <ns> deno run -A tests/helpers/tcp_peer.ts <mode> ...`
 * (Deno cannot enter a namespace itself). Writes one JSON object per line.
 *
 * - `server <port>`: listens on [::]:port (IPv4 too) and holds every
 *   accepted connection until its peer closes; prints {"ready":true}.
 * - `hold <host> <port> <count>`: opens count connections, prints
 *   {"local":addr,"port":n} for each, holds them until stdin closes.
 * - `churn <host> <port> <perSecond> <seconds>`: connects and closes at that
 *   rate (paced per 10 ms), prints {"connected":n,"failed":n,"ms":n} at the end.
 *
 * @module
 */

const out = (o: unknown) => console.log(JSON.stringify(o));

async function server(port: number): Promise<void> {
  const listener = Deno.listen({ hostname: "::", port });
  out({ ready: true });
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(1024);
      try {
        while ((await conn.read(buf)) !== null) { /* hold */ }
      } catch { /* reset */ }
      try {
        conn.close();
      } catch { /* closed */ }
    })();
  }
}

async function hold(host: string, port: number, count: number): Promise<void> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < count; i++) {
    const c = await Deno.connect({ hostname: host, port });
    conns.push(c);
    const local = c.localAddr as Deno.NetAddr;
    out({ local: local.hostname, port: local.port });
  }
  // until the test closes our stdin
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  for (const c of conns) c.close();
}

async function churn(host: string, port: number, perSecond: number, seconds: number) {
  const start = performance.now();
  const total = Math.round(perSecond * seconds);
  let connected = 0, failed = 0, started = 0;
  const inflight = new Set<Promise<void>>();
  while (started < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * perSecond) + 1);
    while (started < due && inflight.size < 256) {
      started++;
      const p: Promise<void> = Deno.connect({ hostname: host, port }).then(
        (c) => {
          connected++;
          c.close();
        },
        () => void failed++,
      ).finally(() => void inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, started < due ? 0 : 10));
  }
  await Promise.all(inflight);
  out({ connected, failed, ms: Math.round(performance.now() - start) });
}

const [mode, ...args] = Deno.args;
if (mode === "server") await server(Number(args[0]));
else if (mode === "hold") await hold(args[0], Number(args[1]), Number(args[2]));
else if (mode === "churn") {
  await churn(args[0], Number(args[1]), Number(args[2]), Number(args[3]));
} else {
  console.error(`usage: tcp_peer.ts server|hold|churn ...`);
  Deno.exit(2);
}
