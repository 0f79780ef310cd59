/**
 * The opened libosprey: the parent of every BPF object (and, through them,
 * every ring) and of every NAT watcher. Get one from {@linkcode openLibrary} in lib.ts.
 *
 * @module
 */

import { BpfObject, type ObjectKind } from "./bpf_object.ts";
import { BpfError, Errno, unwrap } from "./errors.ts";
import {
  describeKernelSupport,
  type KernelSupportReport,
  parseKernelProbe,
} from "./kernel_support.ts";
import type { Native } from "./_native.ts";
import { type NatWatcher, type NatWatcherOptions, openNatWatcher } from "./nat.ts";
import { ObjectKindCode, OpenFlag, type OspreySymbols, type symbols } from "./symbols.ts";

/** Options of {@linkcode OspreyLibrary.openObject}. */
export interface OpenObjectOptions {
  /**
   * Use the raw_tp program variants even where tp_btf works (to exercise
   * the fallback).
   * @default {false}
   */
  forceRawTracepoint?: boolean;
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
  #nats = new Set<NatWatcher>();
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
      (options.legacyExitCheck ? OpenFlag.LEGACY_EXIT : 0);
    const h = this.#native.check(
      this.#dylib.symbols.osp_object_open(ObjectKindCode[kind], flags),
      `open object "${kind}"`,
    );
    const obj = new BpfObject(this.#native, h, kind, (o) => this.#objects.delete(o));
    this.#objects.add(obj);
    return obj;
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
   * Close every object (detaching its programs, closing its rings), then
   * unload the library, once no nonblocking call is still running in it.
   * Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const obj of [...this.#objects]) obj.close();
    for (const w of [...this.#nats]) w.close();
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
