/**
 * The agent's side of osprey-broker: the process the Landlock launcher forks before it enters
 * the domain (ffi/launcher/broker.c, README "Security model"), which answers the procfs reads
 * Landlock's ptrace rule refuses inside the domain. The request set is closed (wire format:
 * ffi/include/osprey_broker.h): a network namespace link, the socket fds, the exe link and
 * bytes of a process, its writable files under `/var/log/`, and statfs beneath its root; every path is built by the broker from a
 * pid. Requests go one at a time (the C side holds a lock across each).
 *
 * @module
 */
import type { Native } from "./_native.ts";
import { BpfError, Errno } from "./errors.ts";
import type { FileRead } from "./library.ts";

const OP = {
  BIND_PROC: 1,
  NS_LINK: 2,
  SOCKET_FDS: 3,
  EXE_LINK: 4,
  EXE_READ: 5,
  ROOT_STATFS: 6,
  NETNS_OPEN: 7,
  LOG_FDS: 8,
} as const;

/** Namespace kinds the broker reads `ns/<kind>` of (enum osp_broker_ns). */
export const BROKER_NS = { net: 1, mnt: 2, pid: 3, uts: 4, ipc: 5, cgroup: 6, user: 7 } as const;

/** A namespace kind {@linkcode ProcBroker.namespaceLink} takes. */
export type BrokerNamespace = keyof typeof BROKER_NS;

const REQ_HEADER = 24;
const ANS_HEADER = 16;
/** OSP_BROKER_DATA_MAX: bytes of data one answer carries at most. */
export const BROKER_DATA_MAX = 65536;
/** Most bytes one {@linkcode ProcBroker.readExe} returns (the data less the file identity). */
export const BROKER_READ_MAX = BROKER_DATA_MAX - 48;
/** OSP_BROKER_PATH_MAX. */
export const BROKER_PATH_MAX = 4096;
/** Largest pid the broker accepts (PID_MAX_LIMIT). */
export const BROKER_PID_MAX = 4194304;

/** The default timeout of one request, in milliseconds. */
export const BROKER_TIMEOUT_MS = 2000;
/** The timeout of a request made on the JavaScript thread (a link read), in milliseconds. */
export const BROKER_SYNC_TIMEOUT_MS = 100;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One socket a process holds: its fd number and the socket's inode. */
export interface BrokerSocketFd {
  readonly fd: number;
  readonly inode: number;
}

/** What {@linkcode ProcBroker.socketFds} read of one process. */
export interface BrokerSocketFds {
  /** fd links read. */
  readonly fds: number;
  /** fds closed between listing the directory and reading the link. */
  readonly gone: number;
  /** The sockets, by ascending fd. */
  readonly sockets: BrokerSocketFd[];
}

/** One file under `/var/log/` a process holds open with write access (O_WRONLY or O_RDWR). */
export interface BrokerLogFd {
  readonly fd: number;
  /** The `flags:` value of `<proc>/<pid>/fdinfo/<fd>`. */
  readonly flags: number;
  /** The link target of `<proc>/<pid>/fd/<fd>` (always starts with "/var/log/"). */
  readonly path: string;
}

/** What {@linkcode ProcBroker.logFds} read of one process. */
export interface BrokerLogFds {
  /** fds looked at. */
  readonly fds: number;
  /** fds closed between listing the directory and reading them. */
  readonly gone: number;
  /** The writable files under /var/log, by ascending fd. */
  readonly files: BrokerLogFd[];
}

/** A network namespace file the broker opened and passed (see {@linkcode ProcBroker.openNetNamespace}). */
export interface BrokerNamespaceFile extends Disposable {
  /** `/proc/self/fd/<n>`: opens the namespace file for libosprey's calls that enter it. */
  readonly path: string;
  /** Closes the descriptor (idempotent). */
  close(): void;
}

/** statfs(2) of a directory, as the broker read it (counts in blocks of `bsize`). */
export interface BrokerStatfs {
  readonly type: number;
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly frsize: number;
}

/** The broker's end of the socket pair, validated; requests relative to one procfs root. */
export class ProcBroker {
  readonly #native: Native;
  readonly #fd: number;
  #seq = 0;
  /** performance.now() at the start of each request in flight on a pool thread. */
  readonly #asyncStarts = new Set<{ at: number }>();
  /** The procfs root the broker answers for (every pid is relative to it). */
  readonly procRoot: string;

  /** Use {@linkcode OspreyLibrary.openBroker}. */
  constructor(native: Native, fd: number, procRoot: string) {
    this.#native = native;
    this.#fd = fd;
    this.procRoot = procRoot;
  }

  /**
   * Binds the broker to `procRoot` (once per broker; it must be the root of a procfs mount).
   * @throws {BpfError} EALREADY (bound before), EINVAL (not a procfs root), EPIPE (no broker)
   */
  bind(): void {
    const check = this.#native.symbols.osp_broker_check;
    if (check === null) {
      throw new BpfError("open the procfs broker", Errno.ENOSYS, {
        detail: "libosprey was built without the broker calls: run deno task build",
      });
    }
    const r = check(this.#fd);
    if (r < 0) throw new BpfError(`open the procfs broker on fd ${this.#fd}`, -r);
    this.#callSync(OP.BIND_PROC, 0, 0, 0n, this.procRoot, BROKER_TIMEOUT_MS);
  }

  /**
   * The text of `<proc>/<pid>/ns/<kind>` (`net:[4026531840]`), read on the calling thread.
   * @throws {BpfError} ENOENT or ESRCH (gone), EACCES, ETIMEDOUT, EBUSY (a slow request holds
   *   the broker: this call does not wait behind it)
   */
  namespaceLink(pid: number, kind: BrokerNamespace): string {
    return decoder.decode(this.#callSync(OP.NS_LINK, pid, BROKER_NS[kind], 0n, ""));
  }

  /**
   * Opens `<proc>/<pid>/ns/net` in the broker, which passes the descriptor over its socket: the
   * returned `path` (`/proc/self/fd/<n>`, the agent's own descriptor, which Landlock lets it
   * open) is what libosprey's namespace-entering calls take (ping, NAT watcher, taskstats).
   * Close it when done. On the calling thread; throws as namespaceLink.
   */
  openNetNamespace(pid: number): BrokerNamespaceFile {
    const close = this.#native.symbols.osp_broker_close_fd;
    if (close === null) throw new BpfError("ask the procfs broker", Errno.ENOSYS);
    const fd = this.#callSync(OP.NETNS_OPEN, pid, 0, 0n, "", BROKER_SYNC_TIMEOUT_MS, true);
    let open = true;
    const file = {
      path: `/proc/self/fd/${fd}`,
      close(): void {
        if (!open) return;
        open = false;
        close(fd);
      },
      [Symbol.dispose](): void {
        file.close();
      },
    };
    return file;
  }

  /** The text of `<proc>/<pid>/exe`, read on the calling thread. Throws as namespaceLink. */
  exeLink(pid: number): string {
    return decoder.decode(this.#callSync(OP.EXE_LINK, pid, 0, 0n, ""));
  }

  /**
   * The sockets among `<proc>/<pid>/fd/*` (`socket:[inode]` links), in as many requests as the
   * process has sockets for.
   * @throws {BpfError} ENOENT (gone), EACCES, ETIMEDOUT, EPIPE (no broker)
   */
  async socketFds(pid: number): Promise<BrokerSocketFds> {
    let first = 0n, fds = 0, gone = 0;
    const sockets: BrokerSocketFd[] = [];
    for (;;) {
      const d = await this.#call(OP.SOCKET_FDS, pid, 0, first, "", BROKER_TIMEOUT_MS);
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      fds += v.getUint32(0, true);
      gone += v.getUint32(4, true);
      for (let at = 16; at + 16 <= d.byteLength; at += 16) {
        sockets.push({ fd: v.getUint32(at, true), inode: Number(v.getBigUint64(at + 8, true)) });
      }
      if (v.getUint32(8, true) === 0) break;
      first = BigInt(v.getUint32(12, true));
    }
    return { fds, gone, sockets };
  }

  /**
   * The files under `/var/log/` that `<proc>/<pid>/fd/*` hold with write access (fdinfo flags
   * O_WRONLY or O_RDWR), in as many requests as their paths fill. The broker applies the prefix
   * and the access mode itself; the caller applies the finer rules (agent/logs/file_rules.ts).
   * @throws {BpfError} ENOENT (gone), EACCES, ETIMEDOUT, EPIPE (no broker)
   */
  async logFds(pid: number): Promise<BrokerLogFds> {
    let first = 0n, fds = 0, gone = 0;
    const files: BrokerLogFd[] = [];
    for (;;) {
      const d = await this.#call(OP.LOG_FDS, pid, 0, first, "", BROKER_TIMEOUT_MS);
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      fds += v.getUint32(0, true);
      gone += v.getUint32(4, true);
      files.push(...decodeLogFds(d, op("logFds", pid)));
      if (v.getUint32(8, true) === 0) break;
      first = BigInt(v.getUint32(12, true));
    }
    return { fds, gone, files };
  }

  /**
   * One descriptor as {@linkcode logFds} reads it: the file, or null when it is open but not a
   * writable file under `/var/log/`.
   * @throws {BpfError} ENOENT (the process or the fd is gone), EACCES, ETIMEDOUT, EPIPE
   */
  async logFd(pid: number, fd: number): Promise<BrokerLogFd | null> {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new BpfError(`procfs broker log_fds of pid ${pid}`, Errno.EINVAL, {
        detail: `fd ${fd} is not a descriptor number`,
      });
    }
    const d = await this.#call(OP.LOG_FDS, pid, 1, BigInt(fd), "", BROKER_TIMEOUT_MS);
    return decodeLogFds(d, op("logFd", pid))[0] ?? null;
  }

  /**
   * Reads up to `buf.length` (at most {@linkcode BROKER_READ_MAX}) bytes at `offset` of the
   * executable of `pid` (`<proc>/<pid>/exe`, opened by the broker), with its identity.
   * @returns null when the process is gone
   * @throws {BpfError} EACCES, EIO, ETIMEDOUT, EPIPE, ...
   */
  async readExe(pid: number, offset: number, buf: Uint8Array): Promise<FileRead | null> {
    const want = Math.min(buf.length, BROKER_READ_MAX);
    let d: Uint8Array;
    try {
      d = await this.#call(OP.EXE_READ, pid, want, BigInt(offset), "", BROKER_TIMEOUT_MS);
    } catch (err) {
      if (err instanceof BpfError && (err.errno === Errno.ENOENT || err.errno === Errno.ESRCH)) {
        return null;
      }
      throw err;
    }
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const u = (at: number) => v.getBigUint64(at, true);
    buf.set(d.subarray(48));
    return {
      bytesRead: d.byteLength - 48,
      stat: {
        dev: u(0),
        ino: u(8),
        size: Number(u(16)),
        mtimeNs: u(24),
        ctimeNs: u(32),
        mode: Number(u(40)),
      },
    };
  }

  /**
   * statfs of the directory `path` (absolute, as `<proc>/<pid>/mountinfo` prints mount points)
   * beneath `<proc>/<pid>/root`, walked by the broker without following symbolic links.
   * @throws {BpfError} ENOTDIR (a file or a link on the way), EINVAL (a "." or ".."
   *   component, a relative path), ENOENT, EACCES, ETIMEDOUT, ...
   */
  async rootStatfs(
    pid: number,
    path: string,
    timeoutMs = BROKER_TIMEOUT_MS,
  ): Promise<BrokerStatfs> {
    const d = await this.#call(OP.ROOT_STATFS, pid, 0, 0n, path, timeoutMs);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const u = (at: number) => Number(v.getBigUint64(at, true));
    return {
      type: u(0),
      bsize: u(8),
      blocks: u(16),
      bfree: u(24),
      bavail: u(32),
      files: u(40),
      ffree: u(48),
      frsize: u(56),
    };
  }

  /** Sends a raw request (tests: malformed and unknown requests). @returns result and data */
  async rawCall(req: Uint8Array): Promise<{ result: number; data: Uint8Array }> {
    const fn = this.#native.symbols.osp_broker_call;
    if (fn === null) throw new BpfError("ask the procfs broker", Errno.ENOSYS);
    const seq = ++this.#seq >>> 0;
    if (req.length >= 4) new DataView(req.buffer, req.byteOffset).setUint32(0, seq, true);
    const ans = new Uint8Array(ANS_HEADER + BROKER_DATA_MAX);
    const n = await this.#native.track(
      fn(this.#fd, req, req.length, ans, ans.length, BROKER_TIMEOUT_MS),
    );
    if (n < 0) throw new BpfError("ask the procfs broker", -n);
    const v = new DataView(ans.buffer);
    return {
      result: v.getInt32(4, true),
      data: ans.slice(ANS_HEADER, ANS_HEADER + v.getUint32(8, true)),
    };
  }

  #request(op: number, pid: number, arg: number, offset: bigint, path: string): Uint8Array {
    const p = encoder.encode(path);
    if (p.length > BROKER_PATH_MAX) {
      throw new BpfError(`ask the procfs broker about "${path}"`, Errno.ENAMETOOLONG);
    }
    const req = new Uint8Array(REQ_HEADER + p.length);
    const v = new DataView(req.buffer);
    this.#seq = (this.#seq + 1) >>> 0;
    v.setUint32(0, this.#seq, true);
    v.setUint32(4, op, true);
    v.setInt32(8, pid, true);
    v.setUint32(12, arg, true);
    v.setBigUint64(16, offset, true);
    req.set(p, REQ_HEADER);
    return req;
  }

  #answer(ans: Uint8Array, n: number, op: number, pid: number): Uint8Array {
    const v = new DataView(ans.buffer);
    const result = v.getInt32(4, true);
    if (result < 0) throw new BpfError(`procfs broker ${opName(op)} of pid ${pid}`, -result);
    const len = v.getUint32(8, true);
    if (ANS_HEADER + len > n) {
      throw new BpfError(`procfs broker ${opName(op)} of pid ${pid}`, Errno.EPROTO, {
        detail: `answer of ${n} bytes says ${len} bytes of data`,
      });
    }
    return ans.subarray(ANS_HEADER, ANS_HEADER + len);
  }

  #callSync(
    op: number,
    pid: number,
    arg: number,
    offset: bigint,
    path: string,
    timeoutMs?: number,
  ): Uint8Array;
  #callSync(
    op: number,
    pid: number,
    arg: number,
    offset: bigint,
    path: string,
    timeoutMs: number,
    passedFd: true,
  ): number;
  #callSync(
    op: number,
    pid: number,
    arg: number,
    offset: bigint,
    path: string,
    timeoutMs = BROKER_SYNC_TIMEOUT_MS,
    passedFd = false,
  ): Uint8Array | number {
    const fn = this.#native.symbols.osp_broker_call_sync;
    if (fn === null) throw new BpfError("ask the procfs broker", Errno.ENOSYS);
    // never block the event loop behind a slow statfs or exe read: a request that has taken
    // longer than a sync call may wait makes this one fail at once
    const now = performance.now();
    for (const s of this.#asyncStarts) {
      if (now - s.at > timeoutMs) {
        throw new BpfError(`procfs broker ${opName(op)} of pid ${pid}`, Errno.EBUSY, {
          detail: "a slow request holds the broker",
        });
      }
    }
    const req = this.#request(op, pid, arg, offset, path);
    const ans = new Uint8Array(ANS_HEADER + 4096);
    const n = fn(this.#fd, req, req.length, ans, ans.length, timeoutMs);
    if (n < 0) throw new BpfError(`procfs broker ${opName(op)} of pid ${pid}`, -n);
    const data = this.#answer(ans, n, op, pid);
    if (!passedFd) return data;
    const fd = new DataView(ans.buffer).getInt32(12, true);
    if (fd < 0) {
      throw new BpfError(`procfs broker ${opName(op)} of pid ${pid}`, Errno.EPROTO, {
        detail: "no descriptor came with the answer",
      });
    }
    return fd;
  }

  async #call(
    op: number,
    pid: number,
    arg: number,
    offset: bigint,
    path: string,
    timeoutMs: number,
  ): Promise<Uint8Array> {
    const fn = this.#native.symbols.osp_broker_call;
    if (fn === null) throw new BpfError("ask the procfs broker", Errno.ENOSYS);
    const req = this.#request(op, pid, arg, offset, path);
    const ans = new Uint8Array(ANS_HEADER + BROKER_DATA_MAX);
    const started = { at: performance.now() };
    this.#asyncStarts.add(started);
    let n: number;
    try {
      n = await this.#native.track(fn(this.#fd, req, req.length, ans, ans.length, timeoutMs));
    } finally {
      this.#asyncStarts.delete(started);
    }
    if (n < 0) throw new BpfError(`procfs broker ${opName(op)} of pid ${pid}`, -n);
    return this.#answer(ans, n, op, pid);
  }
}

const op = (name: string, pid: number) => `procfs broker ${name} of pid ${pid}`;

/** The entries of a LOG_FDS answer (after its 16-byte header). */
function decodeLogFds(d: Uint8Array, what: string): BrokerLogFd[] {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: BrokerLogFd[] = [];
  for (let at = 16; at < d.byteLength;) {
    const len = at + 16 <= d.byteLength ? v.getUint32(at + 8, true) : -1;
    if (len < 0 || at + 16 + len > d.byteLength) {
      throw new BpfError(what, Errno.EPROTO, { detail: `a log fd entry cut at byte ${at}` });
    }
    out.push({
      fd: v.getUint32(at, true),
      flags: v.getUint32(at + 4, true),
      path: decoder.decode(d.subarray(at + 16, at + 16 + len)),
    });
    at += 16 + ((len + 7) & ~7);
  }
  return out;
}

function opName(op: number): string {
  for (const [k, v] of Object.entries(OP)) if (v === op) return k.toLowerCase();
  return `op ${op}`;
}
