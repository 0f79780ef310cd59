// HTTP/2 cleartext client for tests/l7/http2_test.ts: one session, the given paths one after
// another; prints {"results":["<status>[:<grpc-status>]", ...]}.
import http2 from "node:http2";
const [url, ...paths] = process.argv.slice(2);
const session = http2.connect(url);
const out = [];
for (const p of paths) {
  await new Promise((resolve, reject) => {
    const req = session.request({
      ":path": p,
      ...(p.startsWith("/grpc") ? { "content-type": "application/grpc", "te": "trailers" } : {}),
    });
    let status = 0, grpc = "";
    req.on("response", (h) => {
      status = h[":status"];
    });
    req.on("trailers", (t) => {
      grpc = t["grpc-status"] ?? "";
    });
    req.on("data", () => {});
    req.on("end", () => {
      out.push(`${status}${grpc === "" ? "" : ":" + grpc}`);
      resolve();
    });
    req.on("error", reject);
    req.end();
  });
}
console.log(JSON.stringify({ results: out }));
session.close();
