/**
 * Errors from libosprey: every C call returns >= 0 or a negative errno, and
 * {@linkcode unwrap} turns the negative ones into a {@linkcode BpfError}.
 *
 * @module
 */

/** Linux errno numbers (x86-64 and the generic table) by name. */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  20: "ENOTDIR",
  19: "ENODEV",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  28: "ENOSPC",
  32: "EPIPE",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  40: "ELOOP",
  61: "ENODATA",
  71: "EPROTO",
  77: "EBADFD",
  88: "ENOTSOCK",
  74: "EBADMSG",
  90: "EMSGSIZE",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  104: "ECONNRESET",
  105: "ENOBUFS",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  112: "EHOSTDOWN",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  125: "ECANCELED",
  // kernel-internal, but the bpf() syscall leaks it
  524: "ENOTSUPP",
  // libbpf's own codes (LIBBPF_ERRNO__*)
  4000: "LIBBPF_ERRNO__LIBELF",
  4001: "LIBBPF_ERRNO__FORMAT",
  4002: "LIBBPF_ERRNO__KVERSION",
  4003: "LIBBPF_ERRNO__ENDIAN",
  4004: "LIBBPF_ERRNO__INTERNAL",
  4005: "LIBBPF_ERRNO__RELOC",
  4006: "LIBBPF_ERRNO__LOAD",
  4007: "LIBBPF_ERRNO__VERIFY",
  4008: "LIBBPF_ERRNO__PROG2BIG",
  4009: "LIBBPF_ERRNO__KVER",
  4010: "LIBBPF_ERRNO__PROGTYPE",
  4011: "LIBBPF_ERRNO__WRNGPID",
  4012: "LIBBPF_ERRNO__INVSEQ",
  4013: "LIBBPF_ERRNO__NLPARSE",
};

/** Errno numbers callers commonly test for. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  ENOTDIR: 20,
  EINVAL: 22,
  ENOSPC: 28,
  EPIPE: 32,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  EPROTO: 71,
  EBADMSG: 74,
  ENOTSOCK: 88,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  ENETUNREACH: 101,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  ECANCELED: 125,
} as const;

/**
 * Name of an errno number ("EPERM"), or "E<n>" when unknown.
 *
 * @param errno a positive errno
 * @returns its symbolic name
 */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** Options of {@linkcode BpfError}. */
export interface BpfErrorOptions {
  /** What libosprey and libbpf said (osp_last_error()), may be empty. */
  detail?: string;
  cause?: unknown;
}

/** A libosprey call failed with an errno. */
export class BpfError extends Error {
  /** Positive errno, e.g. 1 for EPERM. */
  readonly errno: number;
  /** Symbolic errno name, e.g. "EPERM". */
  readonly code: string;
  /** The operation that failed, e.g. `load object "proc"`. */
  readonly operation: string;
  /** libosprey's message: the failing step and libbpf's own log lines. */
  readonly libbpfMessage: string;

  constructor(operation: string, errno: number, options: BpfErrorOptions = {}) {
    const code = errnoName(errno);
    const detail = options.detail ?? "";
    super(
      `Cannot ${operation}: ${code} (errno ${errno})${detail ? `\n${detail}` : ""}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "BpfError";
    this.errno = errno;
    this.code = code;
    this.operation = operation;
    this.libbpfMessage = detail;
  }
}

/**
 * Return a non-negative result, or throw a {@linkcode BpfError} for a
 * negative errno.
 *
 * @param ret the C function's return value
 * @param operation what was being done, for the message ("attach program \"x\"")
 * @param detail reads the library's last error text; only called on failure
 * @returns ret when it is >= 0
 */
export function unwrap(ret: number, operation: string, detail?: () => string): number {
  if (ret >= 0) return ret;
  throw new BpfError(operation, -ret, { detail: detail?.() ?? "" });
}
