// The unary gRPC service of tests/l7/grpc_test.ts, defined in code (no .proto): one method,
// /osprey.test.Status/Call, whose request and answer are UTF-8 text. The request is the status
// code the server is asked to end the call with ("0" answers OK with a message).
import grpc from "@grpc/grpc-js";

const text = (s) => Buffer.from(s, "utf8");
const untext = (b) => b.toString("utf8");

/** The service definition, for both `Server.addService` and `makeGenericClientConstructor`. */
export const service = {
  call: {
    path: "/osprey.test.Status/Call",
    requestStream: false,
    responseStream: false,
    requestSerialize: text,
    requestDeserialize: untext,
    responseSerialize: text,
    responseDeserialize: untext,
  },
};

export { grpc };
