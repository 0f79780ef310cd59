// gRPC server (@grpc/grpc-js, h2c) for tests/l7/grpc_test.ts: listens on argv[2]:argv[3] and
// ends each call with the status code its request names ("0": OK and an answer); prints
// {"listening":port} once bound.
import { grpc, service } from "./grpc_service.mjs";

const [host, port] = [process.argv[2], Number(process.argv[3])];
const server = new grpc.Server();
server.addService(service, {
  call(call, callback) {
    const code = Number(call.request);
    if (code === 0) callback(null, "ok");
    else callback({ code, details: `asked for ${code}` });
  },
});
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.log(JSON.stringify({ error: `bind ${host}:${port}: ${err.message}` }));
    process.exit(1);
  }
  console.log(JSON.stringify({ listening: bound }));
});
