import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { completeUtf8Length, TailReader, type TailReaderOptions } from "./tail_reader.ts";

const enc = new TextEncoder();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "osprey_tail_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function reader(path: string, opts: Partial<TailReaderOptions> = {}) {
  const lines: string[] = [];
  const r = new TailReader(path, { onLine: (l) => lines.push(l), ...opts });
  return { r, lines };
}

/** Polls until nothing more is waiting. */
async function drain(r: TailReader): Promise<void> {
  while (await r.poll()) { /* more */ }
}

async function append(path: string, text: string | Uint8Array): Promise<void> {
  const f = await Deno.open(path, { append: true, create: true });
  await f.write(typeof text === "string" ? enc.encode(text) : text);
  f.close();
}

function numbered(from: number, to: number, prefix = "line"): string {
  let s = "";
  for (let i = from; i < to; i++) s += `${prefix} ${i}\n`;
  return s;
}

function expected(from: number, to: number, prefix = "line"): string[] {
  return numbered(from, to, prefix).split("\n").slice(0, -1);
}

Deno.test("TailReader starts at the end of an existing file and reads what is appended", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/a.log`;
    await append(p, numbered(0, 5));
    const { r, lines } = reader(p);
    await drain(r);
    assertEquals(lines, []);
    await append(p, numbered(5, 8));
    await drain(r);
    assertEquals(lines, expected(5, 8));
    r.close();
  });
});

Deno.test("TailReader keeps a partial last line until its newline arrives", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/a.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p);
    await drain(r);
    await append(p, "hel");
    await drain(r);
    assertEquals(lines, []);
    await append(p, "lo\nwor");
    await drain(r);
    assertEquals(lines, ["hello"]);
    await append(p, "ld\n");
    await drain(r);
    assertEquals(lines, ["hello", "world"]);
    r.close();
  });
});

Deno.test("TailReader reads a file that appears late from its start", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/late.log`;
    const { r, lines } = reader(p);
    await drain(r);
    assertEquals(r.open, false);
    await append(p, numbered(0, 3));
    await drain(r);
    assertEquals(lines, expected(0, 3));
    r.close();
  });
});

Deno.test("TailReader reads a renamed file to its end and the new one from its start", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/app.log`;
    await Deno.writeTextFile(p, "");
    let now = 0;
    const { r, lines } = reader(p, { drainMs: 1000, clock: () => now });
    await drain(r);
    await append(p, numbered(0, 10));
    await drain(r);
    // written after the last poll, then rotated: must still be read from the old file
    await append(p, numbered(10, 20) + "partial");
    await Deno.rename(p, `${p}.1`);
    await append(p, numbered(20, 30));
    await drain(r);
    assertEquals(lines, [...expected(0, 20), ...expected(20, 30)]);
    assertEquals(r.stats.rotations, 1);
    assertEquals(r.draining, 1);
    // the program writes to the old file until it reopens the path
    await append(`${p}.1`, " line\n" + numbered(30, 35, "late"));
    await drain(r);
    assertEquals(lines.slice(20), [
      ...expected(20, 30),
      "partial line",
      ...expected(30, 35, "late"),
    ]);
    // idle for drainMs: the old file is done with
    now += 1000;
    await drain(r);
    assertEquals(r.draining, 0);
    assertEquals(lines.length, 36);
    r.close();
  });
});

Deno.test("TailReader hands out a renamed file's partial last line once it is done with", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/app.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p, { drainMs: 0 });
    await drain(r);
    await append(p, "whole\npartial");
    await Deno.rename(p, `${p}.1`);
    await append(p, "new\n");
    await drain(r);
    await drain(r);
    assertEquals(lines, ["whole", "new", "partial"]);
    r.close();
  });
});

Deno.test("TailReader reads from the start again after truncation and copy-truncate", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/app.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p);
    await drain(r);
    await append(p, numbered(0, 100));
    await drain(r);
    // copy-truncate: copy, truncate, and the writer writes more before the next poll; the
    // new content is longer than what was read, so only the changed bytes tell
    await Deno.copyFile(p, `${p}.1`);
    await Deno.truncate(p, 0);
    await append(p, numbered(100, 300, "after"));
    await drain(r);
    assertEquals(lines, [...expected(0, 100), ...expected(100, 300, "after")]);
    assertEquals(r.stats.truncations, 1);
    // plain truncation to a shorter file
    await Deno.truncate(p, 0);
    await append(p, "x\n");
    await drain(r);
    assertEquals(lines.at(-1), "x");
    assertEquals(r.stats.truncations, 2);
    assertEquals(lines.length, 301);
    r.close();
  });
});

Deno.test("TailReader waits after deletion and reads a new file at the path", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/app.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p, { drainMs: 0 });
    await drain(r);
    await append(p, "one\n");
    await Deno.remove(p);
    await drain(r);
    assertEquals(lines, ["one"]);
    assertEquals(r.open, false);
    await append(p, "two\n");
    await drain(r);
    assertEquals(lines, ["one", "two"]);
    assertEquals(r.stats.rotations, 1);
    r.close();
  });
});

Deno.test("TailReader cuts a 1 MB line and counts it, keeping the lines around it", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/big.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p, { maxLineBytes: 65_536, chunkBytes: 65_536 });
    await drain(r);
    // "é" is two bytes: the cut must not split one
    const big = "a" + "é".repeat(500_000);
    await append(p, `before\n${big}\nafter\n`);
    await drain(r);
    assertEquals(lines.length, 3);
    assertEquals(lines[0], "before");
    assertEquals(lines[2], "after");
    assertEquals(enc.encode(lines[1]).length <= 65_536, true);
    assertEquals(lines[1].startsWith("aéé"), true);
    assertEquals(r.stats.cut, 1);
    // a long line that arrives in one block with others (the decoded path)
    await append(p, `x\n${"b".repeat(100_000)}\ny\n`);
    await drain(r);
    assertEquals(lines.slice(3).map((l) => l.length), [1, 65_536, 1]);
    assertEquals(r.stats.cut, 2);
    r.close();
  });
});

Deno.test("TailReader drops lines that are not UTF-8 and counts them", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/bin.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p);
    await drain(r);
    const blob = new Uint8Array(4096);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 151 + 7) & 0xff;
    const nls = blob.filter((b) => b === 10).length;
    await append(p, "ok 1\n");
    await append(p, blob);
    await append(p, "\nok 2\n");
    await drain(r);
    assertEquals(lines[0], "ok 1");
    assertEquals(lines.at(-1), "ok 2");
    // every line of the blob is either handed out or counted, never both
    assertEquals(lines.length - 2 + r.stats.invalidUtf8, nls + 1);
    assertEquals(r.stats.invalidUtf8 > 0, true);
    r.close();
  });
});

Deno.test("TailReader resumes at a kept position without repeating a line", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/app.log`;
    await Deno.writeTextFile(p, "");
    const a = reader(p);
    await drain(a.r);
    await append(p, numbered(0, 5) + "half");
    await drain(a.r);
    const pos = a.r.position!;
    a.r.close();
    await append(p, " done\n" + numbered(5, 7));
    const b = reader(p, { resume: pos });
    await drain(b.r);
    assertEquals(a.lines, expected(0, 5));
    assertEquals(b.lines, ["half done", ...expected(5, 7)]);
    b.r.close();
  });
});

Deno.test("TailReader reads at most maxBytesPerPoll per poll and says more is waiting", async () => {
  await withDir(async (dir) => {
    const p = `${dir}/app.log`;
    await Deno.writeTextFile(p, "");
    const { r, lines } = reader(p, { maxBytesPerPoll: 4096, chunkBytes: 4096 });
    await drain(r);
    await append(p, numbered(0, 10_000));
    assertEquals(await r.poll(), true);
    assertEquals(lines.length < 10_000, true);
    await drain(r);
    assertEquals(lines, expected(0, 10_000));
    r.close();
  });
});

Deno.test("completeUtf8Length() drops a character a cut split", () => {
  const b = enc.encode("aé€😀");
  assertEquals(completeUtf8Length(b), b.length);
  assertEquals(completeUtf8Length(b.subarray(0, 2)), 1);
  assertEquals(completeUtf8Length(b.subarray(0, 5)), 3);
  assertEquals(completeUtf8Length(b.subarray(0, 8)), 6);
  assertEquals(completeUtf8Length(new Uint8Array([0x80, 0x80])), 2);
});

Deno.test("TailReader never opens a FIFO at its path (the open would block), and counts it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/ctl`;
    const mk = await new Deno.Command("mkfifo", { args: [path] }).output();
    assertEquals(mk.success, true);
    const { r, lines } = reader(path, { fromStart: true });
    await drain(r); // returns: a blocked open would hang here
    await drain(r);
    await drain(r);
    assertEquals(lines, []);
    assertEquals(r.stats.errors, 1, "counted once while it stays a FIFO, not at every poll");
    // replaced by a regular file (a late file): read from its start
    await Deno.remove(path);
    await append(path, numbered(0, 3));
    await drain(r);
    assertEquals(lines, expected(0, 3));
    r.close();
  });
});
