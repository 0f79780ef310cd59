import { equal } from "node:assert/strict";
import { writeBytes, writeValue } from "./_writer.ts";
import { formatValue } from "./format_number.ts";

function written(v: number): string {
  const buf = new Uint8Array(64);
  const end = writeValue(buf, 3, v);
  return new TextDecoder().decode(buf.subarray(3, end));
}

Deno.test("writeValue() writes exactly what formatValue() returns", () => {
  const values = [
    0,
    -0,
    1,
    9,
    10,
    99,
    100,
    2147483647,
    2147483648,
    4294967296,
    9007199254740991,
    9007199254740992,
    1e21,
    -1,
    -2147483648,
    0.5,
    -0.0000012345678901234567,
    NaN,
    Infinity,
    -Infinity,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ];
  for (let i = 0; i < 2000; i++) {
    values.push(Math.floor(Math.random() * 2 ** (i % 60)));
    values.push((Math.random() - 0.5) * 10 ** ((i % 40) - 20));
  }
  for (const v of values) equal(written(v), formatValue(v), String(v));
});

Deno.test("writeValue() never writes more than MAX_VALUE_BYTES", () => {
  equal(written(-0.0000012345678901234567).length <= 32, true);
  equal(written(-1.2345678901234567e-308).length <= 32, true);
});

Deno.test("writeBytes() copies short and long arrays", () => {
  const out = new Uint8Array(40);
  let pos = writeBytes(out, 0, new Uint8Array([1, 2, 3]));
  pos = writeBytes(out, pos, new Uint8Array(20).fill(7));
  equal(pos, 23);
  equal(out[2], 3);
  equal(out[22], 7);
  equal(out[23], 0);
});
