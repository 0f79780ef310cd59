// HTTP/2 cleartext (h2c) server for tests/l7/http2_test.ts and http2_preexisting_test.ts: /ok 200,
// /fail 500, others 404; /grpc* answer as gRPC does (application/grpc, then trailers with
// grpc-status N for /grpc/N, 0 for /grpc-ok, 14 otherwise); /flush/K answers 200 with a
// 1,000-byte header whose value is new each time (K), so the server's HPACK table (4,096 octets)
// holds none of its older entries after five of them.
import http2 from "node:http2";
const [host, port] = [process.argv[2], Number(process.argv[3])];
const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const path = headers[":path"];
  if (path.startsWith("/grpc")) {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
      waitForTrailers: true,
    });
    const code = path.startsWith("/grpc/") ? path.slice(6) : path === "/grpc-ok" ? "0" : "14";
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": code }));
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    return;
  }
  if (path.startsWith("/flush/")) {
    stream.respond({ ":status": 200, "x-flush": path.slice(7).padEnd(1000, "f") });
    stream.end("x");
    return;
  }
  stream.respond({ ":status": path === "/ok" ? 200 : path === "/fail" ? 500 : 404 });
  stream.end("x");
});
server.listen(port, host, () => console.log(JSON.stringify({ listening: port })));
