import { deepEqual, equal } from "node:assert/strict";
import { EventsFollower } from "./podman.ts";

const ev = (id: string, name: string, app: string) =>
  JSON.stringify({ ID: id, Name: name, Type: "container", Attributes: { app } }) + "\n";

Deno.test("EventsFollower parses only what was appended, and a torn last line once whole", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/events.log`;
  try {
    await Deno.writeTextFile(file, ev("a", "first", "x"));
    const f = new EventsFollower();
    await f.update(file);
    deepEqual(f.index.get("a")?.labels, { app: "x" });
    // a line half written: not indexed until its newline arrives
    const line = ev("b", "second", "y");
    await Deno.writeTextFile(file, line.slice(0, 10), { append: true });
    await f.update(file);
    equal(f.index.has("b"), false);
    await Deno.writeTextFile(file, line.slice(10) + ev("a", "first", "z"), { append: true });
    await f.update(file);
    equal(f.index.get("b")?.name, "second");
    deepEqual(f.index.get("a")?.labels, { app: "z" }); // later events win
    equal(f.index.get("a")?.events, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EventsFollower starts over when the log is replaced or truncated", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/events.log`;
  try {
    await Deno.writeTextFile(file, ev("a", "first", "x") + ev("b", "second", "y"));
    const f = new EventsFollower();
    await f.update(file);
    equal(f.index.size, 2);
    await Deno.writeTextFile(`${file}.new`, ev("c", "third", "z"));
    await Deno.rename(`${file}.new`, file); // rotation: a new inode
    await f.update(file);
    deepEqual([...f.index.keys()], ["c"]);
    await Deno.truncate(file, 0);
    await Deno.writeTextFile(file, ev("d", "fourth", "w"), { append: true });
    await f.update(file);
    deepEqual([...f.index.keys()], ["d"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
