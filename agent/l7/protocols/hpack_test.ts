import { deepEqual, equal, throws } from "node:assert/strict";
import { HpackDecoder, HpackError } from "./hpack.ts";

function hex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function decode(d: HpackDecoder, block: string): [string, string][] {
  const out: [string, string][] = [];
  d.decode(hex(block), (n, v) => out.push([n, v]));
  return out;
}

Deno.test("HpackDecoder: RFC 7541 C.2 field representations", () => {
  const d = new HpackDecoder();
  deepEqual(decode(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"), [
    ["custom-key", "custom-header"],
  ]);
  equal(d.tableSize, 55);
  deepEqual(decode(new HpackDecoder(), "040c 2f73 616d 706c 652f 7061 7468"), [[
    ":path",
    "/sample/path",
  ]]);
  const n = new HpackDecoder();
  deepEqual(decode(n, "1008 7061 7373 776f 7264 0673 6563 7265 74"), [["password", "secret"]]);
  equal(n.tableSize, 0);
  deepEqual(decode(new HpackDecoder(), "82"), [[":method", "GET"]]);
});

const C3_1 = [[":method", "GET"], [":scheme", "http"], [":path", "/"], [
  ":authority",
  "www.example.com",
]];
const C3_2 = [...C3_1, ["cache-control", "no-cache"]];
const C3_3 = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];

Deno.test("HpackDecoder: RFC 7541 C.3 requests without Huffman, one table across them", () => {
  const d = new HpackDecoder();
  deepEqual(decode(d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), C3_1);
  equal(d.tableSize, 57);
  deepEqual(decode(d, "8286 84be 5808 6e6f 2d63 6163 6865"), C3_2);
  equal(d.tableSize, 110);
  deepEqual(
    decode(d, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"),
    C3_3,
  );
  equal(d.tableSize, 164);
  equal(d.tableLength, 3);
});

Deno.test("HpackDecoder: RFC 7541 C.4 requests with Huffman", () => {
  const d = new HpackDecoder();
  deepEqual(decode(d, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"), C3_1);
  deepEqual(decode(d, "8286 84be 5886 a8eb 1064 9cbf"), C3_2);
  deepEqual(
    decode(d, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    C3_3,
  );
  equal(d.tableSize, 164);
});

Deno.test("HpackDecoder: RFC 7541 C.6 responses with Huffman and evictions (table of 256)", () => {
  const d = new HpackDecoder();
  d.setMaxTableSize(256);
  const r1 = [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ];
  deepEqual(
    decode(
      d,
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    ),
    r1,
  );
  equal(d.tableSize, 222);
  deepEqual(decode(d, "4883 640e ff c1 c0 bf"), [[":status", "307"], ...r1.slice(1)]);
  equal(d.tableSize, 222);
  deepEqual(
    decode(
      d,
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ),
    [
      [":status", "200"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
      ["location", "https://www.example.com"],
      ["content-encoding", "gzip"],
      ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
    ],
  );
  equal(d.tableSize, 215);
  equal(d.tableLength, 3);
});

Deno.test("HpackDecoder refuses bad blocks with HpackError", () => {
  for (
    const bad of [
      "80", // index 0
      "ff 20", // index 159: past any table this decoder allows
      "ff ff ff ff ff 0f", // integer too large
      "41", // literal name cut
      "4083", // string longer than the block
      "41 81 ff", // Huffman padding of 8 bits
      "41 84 ff ff ff ff", // EOS inside the string
      "3f e1 1f", // a table size update to 4096, over this decoder's limit of 1000
    ]
  ) {
    const d = new HpackDecoder(1000);
    throws(() => decode(d, bad), HpackError, bad);
  }
  throws(() => new HpackDecoder().setMaxTableSize(1 << 20), RangeError);
});

Deno.test("HpackDecoder skips fields that refer to entries it never saw, and keeps in step", () => {
  const d = new HpackDecoder();
  // A block from a connection joined late: index 62 (never seen), then :status 200, then a
  // literal added to the table, which the next block refers to as index 62.
  deepEqual(decode(d, "be 88 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"), [
    [":status", "200"],
    ["custom-key", "custom-header"],
  ]);
  equal(d.unresolved, 1);
  deepEqual(decode(d, "be bf"), [["custom-key", "custom-header"]]);
  equal(d.unresolved, 2);
});

Deno.test("HpackDecoder never passes on an entry whose name came from an unseen one", () => {
  const d = new HpackDecoder();
  // "grpc-status: 0" was added before the capture began (index 62 for the encoder); the block
  // adds "grpc-status: 14" by that name (literal with incremental indexing, name index 62), and
  // the next block refers to the new entry (62) and to the unseen one (now 63).
  deepEqual(decode(d, "7e 02 3134"), []);
  equal(d.unresolved, 1);
  equal(d.tableLength, 1);
  deepEqual(decode(d, "88 be bf"), [[":status", "200"]]);
  equal(d.unresolved, 3);
  // the same by a literal without indexing: the value is read, the field is not passed on
  deepEqual(decode(d, "0f2f 01 35"), []);
  equal(d.unresolved, 4);
});

Deno.test("HpackDecoder: a size update evicts, an entry larger than the table empties it", () => {
  const d = new HpackDecoder();
  decode(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
  equal(d.tableLength, 1);
  decode(d, "20"); // size 0
  equal(d.tableLength, 0);
  decode(d, "3f e1 1f"); // size 4096
  decode(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
  equal(d.tableLength, 1);
  d.setMaxTableSize(60);
  equal(d.tableLength, 1, "55 octets still fit");
  // custom-key: a 40-byte value, 82 octets: larger than the table, which it empties.
  decode(d, "400a 6375 7374 6f6d 2d6b 6579 28" + "61".repeat(40));
  equal(d.tableLength, 0);
  equal(d.tableSize, 0);
});
