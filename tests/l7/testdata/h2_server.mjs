// HTTP/2 cleartext (h2c) server for tests/l7/http2_test.ts: /ok 200, others 404; /grpc* answer
// as gRPC does (application/grpc, then trailers with grpc-status 0 for /grpc-ok, 14 otherwise).
import http2 from "node:http2";
const [host, port] = [process.argv[2], Number(process.argv[3])];
const server = http2.createServer();
server.on("stream", (stream, headers) => {
  const path = headers[":path"];
  if (path.startsWith("/grpc")) {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, {
      waitForTrailers: true,
    });
    stream.on(
      "wantTrailers",
      () => stream.sendTrailers({ "grpc-status": path === "/grpc-ok" ? "0" : "14" }),
    );
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    return;
  }
  stream.respond({ ":status": path === "/ok" ? 200 : 404 });
  stream.end("x");
});
server.listen(port, host, () => console.log(JSON.stringify({ listening: port })));
