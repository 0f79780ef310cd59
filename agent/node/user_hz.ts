/**
 * USER_HZ, the unit of the CPU times in /proc/stat.
 *
 * The kernel reports /proc/stat times in USER_HZ ticks (`jiffies_64_to_clock_t`), a constant of
 * the user-space ABI that is independent of the kernel's internal CONFIG_HZ. It is 100 on every
 * architecture Deno runs on (x86-64 and arm64 take it from include/asm-generic/param.h; only
 * Alpha, which Deno does not support, defines 1024). `sysconf(_SC_CLK_TCK)` returns it, and glibc
 * gets it from the `AT_CLKTCK` entry the kernel puts in every process's auxiliary vector, so we
 * read the same entry from `<proc>/self/auxv` rather than assume it, and fall back to 100 only
 * when that file cannot be read (a fixture tree without it).
 *
 * @module
 */
import type { HostPaths } from "../paths.ts";
import { under } from "../paths.ts";

/** USER_HZ on every Linux ABI Deno runs on. */
export const DEFAULT_USER_HZ = 100;

/** `AT_CLKTCK` from include/uapi/linux/auxvec.h: "frequency at which times() increments". */
const AT_CLKTCK = 17n;
/** `AT_NULL`, the terminator of the vector. */
const AT_NULL = 0n;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Finds `AT_CLKTCK` in the bytes of a 64-bit process's `/proc/<pid>/auxv` (pairs of native
 * endian unsigned 64-bit words: type, value). Returns undefined when the entry is absent or the
 * bytes are not a whole number of pairs.
 */
export function parseAuxvClockTick(
  bytes: Uint8Array,
  littleEndian: boolean = LITTLE_ENDIAN,
): number | undefined {
  if (bytes.length === 0 || bytes.length % 16 !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off + 16 <= bytes.length; off += 16) {
    const type = view.getBigUint64(off, littleEndian);
    if (type === AT_NULL) break;
    if (type === AT_CLKTCK) {
      const hz = Number(view.getBigUint64(off + 8, littleEndian));
      return hz > 0 ? hz : undefined;
    }
  }
  return undefined;
}

/** USER_HZ and where it came from. */
export interface UserHz {
  readonly hz: number;
  readonly source: "auxv" | "default";
}

/** Reads USER_HZ from `<proc>/self/auxv`, or returns the ABI value 100 when that fails. */
export async function readUserHz(paths: HostPaths): Promise<UserHz> {
  try {
    const hz = parseAuxvClockTick(await Deno.readFile(under(paths.proc, "self/auxv")));
    if (hz !== undefined) return { hz, source: "auxv" };
  } catch {
    // Not readable (a fixture tree, a restricted procfs): the ABI constant below applies.
  }
  return { hz: DEFAULT_USER_HZ, source: "default" };
}
