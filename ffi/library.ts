/**
 * The opened libosprey: the parent of every BPF object (and, through them,
 * every ring) and of every NAT watcher. Get one from {@linkcode openLibrary} in lib.ts.
 *
 * @module
 */

import { ProcBroker } from "./broker.ts";
import { BpfObject, type ObjectKind } from "./bpf_object.ts";
import { BpfError, Errno, unwrap } from "./errors.ts";
import {
  describeKernelSupport,
  type KernelSupportReport,
  parseKernelProbe,
} from "./kernel_support.ts";
import type { Native } from "./_native.ts";
import { ping, type PingOptions, type PingResult } from "./ping.ts";
import { RawFile } from "./raw_file.ts";
import { type NatWatcher, type NatWatcherOptions, openNatWatcher } from "./nat.ts";
import { openTaskstats, type TaskstatsSocket } from "./taskstats.ts";
import { type Journal, openJournal } from "./journal.ts";
import {
  FILE_STAT_SIZE,
  ObjectKindCode,
  OpenFlag,
  type OspreySymbols,
  type symbols,
} from "./symbols.ts";

/** A file as fstat() describes it (osp_file_read()). */
export interface FileStat {
  readonly dev: bigint;
  readonly ino: bigint;
  /** Bytes. */
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  /** st_mode: type and permission bits. */
  readonly mode: number;
}

/** What {@linkcode OspreyLibrary.readFile} read. */
export interface FileRead {
  readonly bytesRead: number;
  readonly stat: FileStat;
}

const encoder = new TextEncoder();

/** Options of {@linkcode OspreyLibrary.openObject}. */
export interface OpenObjectOptions {
  /**
   * Use the raw_tp program variants even where tp_btf works (to exercise
   * the fallback).
   * @default {false}
   */
  forceRawTracepoint?: boolean;
  /**
   * Use no fentry/fexit programs even where the kernel loads them (to
   * exercise the tracepoint-only paths).
   * @default {false}
   */
  noFentry?: boolean;
  /**
   * Find a process's last exiting thread through signal->live, as on
   * kernels whose sched_process_exit lacks the group_dead argument (to
   * exercise that path).
   * @default {false}
   */
  legacyExitCheck?: boolean;
}

const TEXT_START = 4096;
const TEXT_MAX = 1 << 20;

/** An opened libosprey. Close it (or `using` it) to unload it. */
export class OspreyLibrary {
  /** Absolute path of the opened file (what a scoped --allow-ffi must name). */
  readonly path: string;
  #dylib: Deno.DynamicLibrary<typeof symbols>;
  #objects = new Set<BpfObject>();
  #files = new Set<RawFile>();
  #nats = new Set<NatWatcher>();
  #taskstats = new Set<TaskstatsSocket>();
  #journals = new Set<Journal>();
  #closed = false;
  #inflight = 0;
  #unloadWhenIdle = false;
  #unloaded = false;
  #errBuf = new Uint8Array(16 * 1024);
  #native: Native;

  /** Use {@linkcode openLibrary}; this wraps an already checked library. */
  constructor(dylib: Deno.DynamicLibrary<typeof symbols>, path: string) {
    this.#dylib = dylib;
    this.path = path;
    const decoder = new TextDecoder();
    const lastError = () => {
      if (this.#unloaded) return "";
      const n = dylib.symbols.osp_last_error(this.#errBuf, this.#errBuf.byteLength);
      return n > 0 ? decoder.decode(this.#errBuf.subarray(0, n)) : "";
    };
    this.#native = {
      symbols: dylib.symbols,
      lastError,
      check: (ret, operation) => unwrap(ret, operation, lastError),
      track: <T>(call: Promise<T>) => {
        this.#inflight++;
        const settled = () => {
          if (--this.#inflight === 0 && this.#unloadWhenIdle) this.#unload();
        };
        call.then(settled, settled);
        return call;
      },
      text: (call, operation) => {
        for (let cap = TEXT_START;; cap *= 2) {
          const buf = new Uint8Array(cap);
          const n = call(buf, cap);
          if (n >= 0) return decoder.decode(buf.subarray(0, n));
          if (n !== -Errno.ENOSPC || cap >= TEXT_MAX) {
            throw new BpfError(operation, -n, { detail: lastError() });
          }
        }
      },
    };
  }

  /** The raw symbols, for tests and tools; prefer the classes. */
  get symbols(): OspreySymbols {
    this.#assertOpen("use symbols");
    return this.#dylib.symbols;
  }

  /** True once {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The library's OSP_ABI_VERSION. */
  abiVersion(): number {
    this.#assertOpen("read the ABI version");
    return this.#dylib.symbols.osp_abi_version();
  }

  /** The message of the library's last failure ("" if none). */
  lastError(): string {
    return this.#closed ? "" : this.#native.lastError();
  }

  /** Probe the kernel and say what is missing for the BPF programs. */
  kernelSupport(): KernelSupportReport {
    this.#assertOpen("probe the kernel");
    const text = this.#native.text(
      (buf, cap) => this.#dylib.symbols.osp_kernel_probe(buf, cap),
      "probe the kernel",
    );
    return describeKernelSupport(parseKernelProbe(text));
  }

  /** osp_layout(): the C view of every record layout, one "name offset size" per line. */
  layout(): string {
    this.#assertOpen("read record layouts");
    return this.#native.text(
      (buf, cap) => this.#dylib.symbols.osp_layout(buf, cap),
      "read record layouts",
    );
  }

  /**
   * Open one of the embedded BPF objects. Feature probes run here and pick
   * the program variants; nothing is loaded into the kernel yet.
   *
   * @param kind which object
   * @param options variant overrides
   * @returns the object; the library closes it if you do not
   */
  openObject(kind: ObjectKind, options: OpenObjectOptions = {}): BpfObject {
    this.#assertOpen(`open object "${kind}"`);
    const flags = (options.forceRawTracepoint ? OpenFlag.FORCE_RAW_TP : 0) |
      (options.legacyExitCheck ? OpenFlag.LEGACY_EXIT : 0) |
      (options.noFentry ? OpenFlag.NO_FENTRY : 0);
    const h = this.#native.check(
      this.#dylib.symbols.osp_object_open(ObjectKindCode[kind], flags),
      `open object "${kind}"`,
    );
    const obj = new BpfObject(this.#native, h, kind, (o) => this.#objects.delete(o));
    this.#objects.add(obj);
    return obj;
  }

  /**
   * Ping IP addresses (ICMP echo, ICMPv6 echo) from inside a network
   * namespace and wait for the replies, on a pool thread: the event loop
   * keeps running. libosprey enters the namespace on a thread of its own.
   * Needs CAP_NET_RAW, or ICMP datagram sockets allowed for the agent's group
   * by the namespace's net.ipv4.ping_group_range; entering another
   * namespace needs CAP_SYS_ADMIN.
   *
   * ```ts ignore
   * const [r] = await lib.ping("/run/osprey/host/proc/4242/ns/net", ["10.0.0.7"]);
   * if (!("error" in r)) console.log(r.rttSeconds);
   * ```
   *
   * @param netnsPath a network namespace file such as `<procfs>/<pid>/ns/net`;
   *   "" for the caller's own namespace
   * @param targets IP address literals (IPv4, IPv6, IPv4-mapped IPv6)
   * @param options deadline (default 300 ms) and path overrides
   * @returns one result per target, in order: an RTT, or an errno name
   * @throws {BpfError} when the whole call failed (no such namespace file,
   *   not a network namespace, setns refused)
   * @throws {RangeError} when timeoutMs or the number of targets is out of range
   */
  ping(
    netnsPath: string,
    targets: readonly string[],
    options?: PingOptions,
  ): Promise<PingResult[]> {
    this.#assertOpen("ping");
    return ping(this.#native, netnsPath, targets, options);
  }

  /**
   * Open a regular file by the bytes of its path, for paths that are not UTF-8 (Deno's file
   * APIs cannot open those). The library's handles are few (1024): keep a file open only while
   * it is read again and again.
   *
   * @param path the path's bytes, absolute, without NUL
   * @param name the path as printable text, for error messages
   * @returns the open file; the library closes it if you do not
   * @throws {BpfError} with the errno of open(2) (ENOENT, EACCES, ...), EINVAL for a path
   * with a NUL or a file that is not regular, EMFILE when every handle is in use
   */
  openFile(path: Uint8Array, name: string): RawFile {
    this.#assertOpen(`open file "${name}"`);
    if (path.includes(0)) {
      throw new BpfError(`open file "${name}"`, Errno.EINVAL, { detail: "the path holds a NUL" });
    }
    const z = new Uint8Array(path.length + 1);
    z.set(path);
    const h = this.#native.check(this.#dylib.symbols.osp_file_open(z), `open file "${name}"`);
    const file = new RawFile(this.#native, h, name, (f) => this.#files.delete(f));
    this.#files.add(file);
    return file;
  }

  /**
   * Watch conntrack in a network namespace, to resolve where DNATed TCP
   * connections really go. The library's own thread enters the namespace
   * (no thread of Deno's does), subscribes to conntrack events and seeds its
   * cache from a dump of the table, on Deno's blocking pool.
   *
   * Needs CAP_NET_ADMIN in that namespace (ctnetlink), and CAP_SYS_ADMIN
   * plus permission to open the path (CAP_SYS_PTRACE for another process's
   * /proc/<pid>/ns/net) to enter a namespace other than the caller's.
   *
   * @param netns a network namespace file such as "/host/proc/1/ns/net",
   * or "" for the caller's own
   * @param options cache size, event socket, GET budget, test switches
   * @returns the watcher; the library closes it if you do not
   * @throws {BpfError} ENOENT (no such path), EINVAL (not a network
   * namespace), EPERM (a capability is missing; the message says which)
   */
  async openNatWatcher(netns: string, options: NatWatcherOptions = {}): Promise<NatWatcher> {
    this.#assertOpen("watch conntrack");
    const w = await openNatWatcher(this.#native, netns, options, (x) => this.#nats.delete(x));
    if (this.#closed) {
      w.close();
      throw new BpfError("watch conntrack", Errno.EBADF, {
        detail: "the library was closed while the watcher opened",
      });
    }
    this.#nats.add(w);
    return w;
  }

  /**
   * Open a taskstats socket (generic netlink TASKSTATS) for delay accounting, on Deno's
   * blocking pool. The family answers only in the initial network namespace: pass the host's
   * namespace file when the agent runs in another one, and the library's own thread enters it
   * to create the socket (CAP_SYS_ADMIN, and CAP_SYS_PTRACE to open another process's
   * `/proc/<pid>/ns/net`). Queries need CAP_NET_ADMIN (the kernel marks the command
   * GENL_ADMIN_PERM).
   *
   * @param netns the host's network namespace file (`<proc>/1/ns/net`), or "" for the caller's
   * @returns the socket; the library closes it if you do not
   * @throws {BpfError} ENOENT (no such path, or no TASKSTATS family in that namespace),
   *   EINVAL (not a network namespace), EPERM (setns refused)
   */
  async openTaskstats(netns: string): Promise<TaskstatsSocket> {
    this.#assertOpen("open taskstats");
    const s = await openTaskstats(this.#native, netns, (x) => this.#taskstats.delete(x));
    if (this.#closed) {
      s.close();
      throw new BpfError("open taskstats", Errno.EBADF, {
        detail: "the library was closed while the socket opened",
      });
    }
    this.#taskstats.add(s);
    return s;
  }

  /**
   * The procfs broker the Landlock launcher started (`OSPREY_BROKER_FD`), bound to `procRoot`
   * (README, "Security model"; ffi/broker.ts).
   *
   * @param fd the broker socket's descriptor number
   * @param procRoot the procfs root every pid is relative to (the agent's `<proc>`)
   * @throws {BpfError} ENOTSOCK (fd is no broker socket), EBADF, EINVAL (not a procfs root),
   *   EALREADY (bound before), EPIPE (the broker is gone), ENOSYS (a library without the calls)
   */
  openBroker(fd: number, procRoot: string): ProcBroker {
    this.#assertOpen("open the procfs broker");
    const b = new ProcBroker(this.#native, fd, procRoot);
    b.bind();
    return b;
  }

  /**
   * Follow the systemd journal files of a directory (the host's `/run/log/journal` or
   * `/var/log/journal`) through libsystemd's sd_journal, loaded on first use, on Deno's
   * blocking pool.
   *
   * @param dir the journal directory as the agent reaches it
   * @param cursor where a previous reader stopped ({@linkcode Journal.cursor}), or "" to
   *   start at the end
   * @returns the journal; the library closes it if you do not
   * @throws {BpfError} ENOENT when libsystemd.so.0 cannot be loaded (the message says why),
   *   sd_journal's errno when the directory cannot be opened
   */
  async openJournal(dir: string, cursor = ""): Promise<Journal> {
    this.#assertOpen(`open journal "${dir}"`);
    const j = await openJournal(this.#native, dir, cursor, (x) => this.#journals.delete(x));
    if (this.#closed) {
      j.close();
      throw new BpfError(`open journal "${dir}"`, Errno.EBADF, {
        detail: "the library was closed while the journal opened",
      });
    }
    this.#journals.add(j);
    return j;
  }

  /**
   * Close every file, object (detaching its programs, closing its rings) and NAT watcher,
   * then unload the library, once no nonblocking call is still running in it. Idempotent.
   * Close every file and object (detaching its programs, closing its rings), then
   * Read up to `buf.length` bytes at `offset` of the file at `path`, opened by the kernel's own
   * path resolution (osp_file_read()): `<proc>/<pid>/exe` opens the process's executable in
   * its mount namespace, which Deno's file APIs, resolving the link by its text, cannot. Runs
   * on Deno's blocking pool, so a hung file system stalls that call, not the event loop.
   *
   * @param path the file; procfs links are followed
   * @param offset where to read, in bytes
   * @param buf where the bytes go
   * @returns the bytes read (0 at the end, and for a file that is not regular) and the file's
   *   fstat
   * @throws {BpfError} with the errno: ENOENT when the file (or the process) is gone, EACCES,
   *   EIO, ...
   */
  async readFile(path: string, offset: number, buf: Uint8Array): Promise<FileRead> {
    this.#assertOpen("read a file");
    const p = encoder.encode(path);
    const st = new Uint8Array(FILE_STAT_SIZE);
    const n = await this.#native.track(
      this.#dylib.symbols.osp_file_read(
        p,
        p.length,
        BigInt(offset),
        buf,
        buf.length,
        st,
        st.length,
      ),
    );
    if (n < 0) throw new BpfError(`read "${path}" at ${offset}`, -n);
    const v = new DataView(st.buffer);
    const u = (at: number) => v.getBigUint64(at, true);
    return {
      bytesRead: n,
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
   * Close every object (detaching its programs, closing its rings), then
   * unload the library, once no nonblocking call is still running in it.
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const file of [...this.#files]) file.close();
    for (const obj of [...this.#objects]) obj.close();
    for (const w of [...this.#nats]) w.close();
    for (const t of [...this.#taskstats]) t.close();
    for (const j of [...this.#journals]) j.close();
    if (this.#inflight === 0) this.#unload();
    else this.#unloadWhenIdle = true;
  }

  #unload(): void {
    this.#unloadWhenIdle = false;
    this.#unloaded = true;
    this.#dylib.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new BpfError(operation, Errno.EBADF, { detail: "library is closed" });
  }
}
