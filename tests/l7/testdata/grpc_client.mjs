// gRPC client (@grpc/grpc-js, h2c, one channel) for tests/l7/grpc_test.ts: argv[2] is the
// target host:port, argv[3] how many calls run at once, the rest the status codes to ask for, one
// call each, in that order. Prints {"results":[<code the client saw>, ...]} in the same order.
import { grpc, service } from "./grpc_service.mjs";

const [target, parallel, ...codes] = process.argv.slice(2);
const Client = grpc.makeGenericClientConstructor(service, "Status");
const client = new Client(target, grpc.credentials.createInsecure());
const one = (code) =>
  new Promise((resolve) =>
    client.call(code, (err, answer) => {
      if (err) resolve(err.code);
      else resolve(answer === "ok" ? 0 : -1);
    })
  );
const results = [];
for (let i = 0; i < codes.length; i += Number(parallel)) {
  results.push(...await Promise.all(codes.slice(i, i + Number(parallel)).map(one)));
}
console.log(JSON.stringify({ results }));
client.close();
