// A long-lived HTTP/2 cleartext client for tests/l7/http2_preexisting_test.ts: one session to the
// URL given, then one request per path read on stdin (gRPC-shaped for /grpc*: POST,
// application/grpc), each answered with a JSON line {"result":"<status>[:<grpc-status>]"}; a
// first line {"connected":true} once the session is up. The session stays open until stdin ends.
import http2 from "node:http2";
import readline from "node:readline";
const session = http2.connect(process.argv[2]);
await new Promise((resolve, reject) => {
  session.once("connect", resolve);
  session.once("error", reject);
});
console.log(JSON.stringify({ connected: true }));
for await (const p of readline.createInterface({ input: process.stdin })) {
  if (p === "") continue;
  try {
    const result = await new Promise((resolve, reject) => {
      const req = session.request({
        ":path": p,
        ...(p.startsWith("/grpc")
          ? { ":method": "POST", "content-type": "application/grpc", "te": "trailers" }
          : {}),
      });
      let status = 0, grpc = "";
      req.on("response", (h) => {
        status = h[":status"];
      });
      req.on("trailers", (t) => {
        grpc = t["grpc-status"] ?? "";
      });
      req.on("data", () => {});
      req.on("end", () => resolve(`${status}${grpc === "" ? "" : ":" + grpc}`));
      req.on("error", reject);
      req.end();
    });
    console.log(JSON.stringify({ result }));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err) }));
  }
}
session.close();
