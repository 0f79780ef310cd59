import { deepEqual, equal } from "node:assert/strict";
import {
  countRedisCommands,
  countRedisReplies,
  isRedisRequest,
  redisResponseStatus,
  summarizeRedisCommand,
} from "./redis.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function cmd(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

Deno.test("isRedisRequest() takes the reference's command shape", () => {
  equal(isRedisRequest(enc(cmd("GET", "k"))), true);
  equal(isRedisRequest(enc(cmd("PING"))), true);
  equal(isRedisRequest(enc(`*12\r\n$10\r\nabcdefghij\r\n`)), true);
  equal(isRedisRequest(enc(`*12\r\n$100\r\nabc\r\n`)), false, "the letter is past byte 12");
  equal(isRedisRequest(enc(`*1\r\n$4\r\n1234\r\n`)), false, "not a letter");
  equal(isRedisRequest(enc("PING\r\n")), false, "inline commands are not detected");
  equal(isRedisRequest(enc("*1\r\n$4\r\nPIN")), true);
  equal(isRedisRequest(enc("*1\r\n$4\r\n")), false);
});

Deno.test("redisResponseStatus() maps the first byte", () => {
  for (
    const ok of [
      "+OK\r\n",
      ":1\r\n",
      "$3\r\nabc\r\n",
      "*0\r\n",
      "_\r\n",
      "%1\r\n",
      ">2\r\n",
      "|1\r\n",
    ]
  ) {
    equal(redisResponseStatus(enc(ok)), "ok", ok);
  }
  equal(redisResponseStatus(enc("-ERR unknown command\r\n")), "failed");
  equal(redisResponseStatus(enc("!21\r\nSYNTAX invalid syntax\r\n")), "failed");
  equal(redisResponseStatus(enc(cmd("GET", "k"))), null, "an array shaped like a command");
  equal(redisResponseStatus(enc("+\r")), null);
  equal(redisResponseStatus(enc("?ab")), null);
});

Deno.test("countRedisCommands() counts a pipelined write", () => {
  deepEqual(countRedisCommands(enc(cmd("SET", "a", "1") + cmd("GET", "a") + cmd("INCR", "n"))), {
    count: 3,
    errors: 0,
    complete: true,
  });
  const three = enc(cmd("SET", "a", "1") + cmd("GET", "a") + cmd("INCR", "n"));
  deepEqual(countRedisCommands(three.subarray(0, three.length - 3)), {
    count: 2,
    errors: 0,
    complete: false,
  });
  deepEqual(countRedisCommands(enc("PING\r\n")), { count: 0, errors: 0, complete: false });
  deepEqual(countRedisCommands(enc("*1\r\n$2\r\nabc\r\n")), {
    count: 0,
    errors: 0,
    complete: false,
  });
});

Deno.test("countRedisReplies() counts replies and errors, RESP2 and RESP3", () => {
  deepEqual(countRedisReplies(enc("+OK\r\n$1\r\n1\r\n:2\r\n-ERR wrong type\r\n$-1\r\n")), {
    count: 5,
    errors: 1,
    complete: true,
  });
  deepEqual(countRedisReplies(enc("*2\r\n$1\r\na\r\n*1\r\n-ERR nested\r\n+OK\r\n")), {
    count: 2,
    errors: 0,
    complete: true,
  });
  deepEqual(countRedisReplies(enc("%1\r\n+k\r\n:1\r\n~2\r\n#t\r\n,1.5\r\n!3\r\nERR\r\n")), {
    count: 3,
    errors: 1,
    complete: true,
  });
  deepEqual(countRedisReplies(enc("|1\r\n+ttl\r\n:3\r\n+OK\r\n>2\r\n+a\r\n+b\r\n_\r\n")), {
    count: 2,
    errors: 0,
    complete: true,
  });
  deepEqual(countRedisReplies(enc("*3\r\n:1\r\n:2\r\n")), { count: 0, errors: 0, complete: false });
  deepEqual(countRedisReplies(enc("+OK\r\n$5\r\nab")), { count: 1, errors: 0, complete: false });
  deepEqual(countRedisReplies(enc("*0\r\n*-1\r\n")), { count: 2, errors: 0, complete: true });
  deepEqual(
    countRedisReplies(enc("*2\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n:2\r\n+OK\r\n")),
    { count: 2, errors: 0, complete: true },
    "an attribute inside an array fills no slot",
  );
  deepEqual(countRedisReplies(enc("*1\r\n".repeat(40) + ":1\r\n")), {
    count: 0,
    errors: 0,
    complete: false,
  });
});

Deno.test("summarizeRedisCommand() gives the command and its first argument", () => {
  deepEqual(summarizeRedisCommand(enc(cmd("LLEN", "mylist", "xy"))), {
    command: "LLEN",
    args: "mylist ...",
  });
  deepEqual(summarizeRedisCommand(enc(cmd("SMEMBERS", "mylist"))), {
    command: "SMEMBERS",
    args: "mylist",
  });
  deepEqual(summarizeRedisCommand(enc(cmd("PING"))), { command: "PING", args: "" });
  equal(summarizeRedisCommand(enc("PING\r\n")), null);
  equal(summarizeRedisCommand(enc("*1\r\n$4\r\nPI")), null);
});
