/**
 * Reading the whole text of a descriptor kept open between collection rounds. procfs, sysfs
 * and cgroupfs regenerate a file's text when it is read again from offset 0, so a round costs
 * one seek and one read instead of an open (with Deno's permission check and path resolution),
 * a read and a close.
 *
 * @module
 */

const decoder = new TextDecoder();
// One buffer for every caller: reads are synchronous and the text is decoded (copied) before
// returning, so no two reads can interleave. It grows to the largest file read and stays.
let buf = new Uint8Array(8192);

/** Reads `file` from offset 0 to its end and returns the text. */
export function rereadSync(file: Deno.FsFile): string {
  file.seekSync(0, Deno.SeekMode.Start);
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const got = file.readSync(buf.subarray(n));
    if (got === null || got === 0) break;
    n += got;
  }
  return decoder.decode(buf.subarray(0, n));
}
