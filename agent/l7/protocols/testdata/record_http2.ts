/**
 * Records the bytes of a real HTTP/2 conversation for `http2_test.ts`: a `node:http2` (nghttp2)
 * client and server on loopback, with a relay between them that writes each chunk it reads, per
 * direction, to `http2_node.json`. The traffic: 20 GETs answered 200 (12), 404 (5) and 500 (3),
 * then 6 gRPC-shaped POSTs (`content-type: application/grpc`) answered with trailers carrying
 * `grpc-status` 0 (3), 5 (2) and 14 (1), then one trailers-only answer (`grpc-status` 12), all on
 * one connection so the HPACK tables carry across requests.
 *
 * Usage: deno run -A agent/l7/protocols/testdata/record_http2.ts
 *
 * @module
 */
import http2 from "node:http2";

const chunks: { side: "client" | "server"; hex: string }[] = [];
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const path = String(headers[":path"]);
  if (path.startsWith("/grpc/")) {
    const code = Number(path.slice(6));
    if (code === 12) {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, {
        endStream: true,
      });
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
      waitForTrailers: true,
    });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(code) }));
    stream.end(new Uint8Array([0, 0, 0, 0, 2, 8, 1]));
    return;
  }
  const status = Number(path.slice(1));
  stream.respond({ ":status": status, "content-type": "text/plain" });
  stream.end("x".repeat(status === 200 ? 10 : 3));
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const serverPort = (server.address() as { port: number }).port;

const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const relayed = (async () => {
  const conn = await relay.accept();
  const upstream = await Deno.connect({ hostname: "127.0.0.1", port: serverPort });
  const pump = async (from: Deno.Conn, to: Deno.Conn, side: "client" | "server") => {
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await from.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push({ side, hex: hex(buf.subarray(0, n)) });
      await to.write(buf.subarray(0, n)).catch(() => {});
    }
    try {
      to.closeWrite();
    } catch { /* already closed */ }
  };
  await Promise.all([pump(conn, upstream, "client"), pump(upstream, conn, "server")]);
})();

const client = http2.connect(`http://127.0.0.1:${relay.addr.port}`);
function request(headers: Record<string, string>, body?: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers);
    req.on("response", () => {});
    req.on("data", () => {});
    req.on("end", () => resolve());
    req.on("error", reject);
    if (body) req.end(body);
    else req.end();
  });
}
const statuses = [...Array(12).fill(200), ...Array(5).fill(404), ...Array(3).fill(500)];
for (const s of statuses) await request({ ":method": "GET", ":path": `/${s}` });
for (const code of [0, 0, 0, 5, 5, 14, 12]) {
  await request(
    {
      ":method": "POST",
      ":path": `/grpc/${code}`,
      "content-type": "application/grpc",
      te: "trailers",
    },
    new Uint8Array([0, 0, 0, 0, 0]),
  );
}
client.close();
await relayed;
relay.close();
server.close();
const out = new URL("./http2_node.json", import.meta.url);
Deno.writeTextFileSync(out, JSON.stringify(chunks, null, 0) + "\n");
console.log(`${chunks.length} chunks written to ${out.pathname}`);
