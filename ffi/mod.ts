/**
 * Osprey's native layer: libosprey (C, around libbpf) and its TypeScript
 * binding. The only module the rest of the agent imports from ffi/.
 *
 * Nothing opens the library at import time:
 *
 * ```ts ignore
 * import { decodeProcEvent, forEachFrame, openLibrary } from "./ffi/mod.ts";
 *
 * using lib = openLibrary();
 * const obj = lib.openObject("proc");
 * obj.load();
 * for (const r of obj.attach()) if (!r.attached && !r.skipped) console.error(r);
 * const ring = obj.openRing("proc_events");
 * for await (const batch of ring.batches({ signal })) {
 *   forEachFrame(batch, (off) => handle(decodeProcEvent(batch, off)));
 * }
 *
 * // RTTs from inside a container's network namespace (ICMP and ICMPv6 echo)
 * const rs = await lib.ping("/run/osprey/host/proc/4242/ns/net", ["10.0.0.7", "fd00::7"]);
 * for (const r of rs) console.log(r.address, "error" in r ? r.error : r.rttSeconds);
 * ```
 *
 * @module
 */

export {
  defaultLibraryPath,
  LIBRARY_ENV,
  type LibraryAttempt,
  libraryCandidates,
  LibraryLoadError,
  openLibrary,
} from "./lib.ts";
export { type FileRead, type FileStat, type OpenObjectOptions, OspreyLibrary } from "./library.ts";
export {
  type AttachResult,
  BpfObject,
  type LostCounts,
  type ObjectKind,
  type ProcCounters,
  type ProgramInfo,
  type ProgramVariant,
} from "./bpf_object.ts";
export { RawFile } from "./raw_file.ts";
export {
  BROKER_DATA_MAX,
  BROKER_NS,
  BROKER_PATH_MAX,
  BROKER_PID_MAX,
  BROKER_READ_MAX,
  type BrokerLogFd,
  type BrokerLogFds,
  type BrokerNamespace,
  type BrokerNamespaceFile,
  type BrokerSocketFd,
  type BrokerSocketFds,
  type BrokerStatfs,
  ProcBroker,
} from "./broker.ts";
export { type BatchOptions, DEFAULT_DRAIN_BUFFER, MAX_WAIT_MS, RingBuffer } from "./ring_buffer.ts";
export { BpfError, type BpfErrorOptions, Errno, errnoName, unwrap } from "./errors.ts";
export {
  describeKernelSupport,
  type KernelSupport,
  type KernelSupportReport,
  parseKernelProbe,
} from "./kernel_support.ts";
export {
  decodeProcEvent,
  emptyProcEvent,
  forEachFrame,
  FRAME_HDR_SIZE,
  FrameBatch,
  PROC_EVENT_SIZE,
  type ProcEvent,
  type ProcEventType,
  ProcFlag,
  RecordType,
  recordType,
} from "./records.ts";
export {
  decodePingResults,
  DEFAULT_PING_TIMEOUT_MS,
  encodePingTargets,
  PING_MAX_TARGETS,
  PING_MAX_TIMEOUT_MS,
  type PingFailure,
  type PingOptions,
  type PingReply,
  type PingResult,
  type RawPingResult,
} from "./ping.ts";
export {
  decodeNatResult,
  encodeNatQuery,
  NAT_QUERY_SIZE,
  NAT_RESULT_SIZE,
  type NatQuery,
  type NatResult,
  type NatStats,
  NatWatcher,
  type NatWatcherInfo,
  type NatWatcherOptions,
} from "./nat.ts";
export {
  decodeTaskstatsAnswer,
  decodeTaskstatsRecord,
  decodeTaskstatsRecords,
  encodePids,
  TASKSTATS_MAX_PIDS,
  TASKSTATS_RECORD_SIZE,
  type TaskstatsInfo,
  type TaskstatsRecord,
  TaskstatsRecordFlag,
  TaskstatsSocket,
} from "./taskstats.ts";
export {
  decodeFileOpenEvent,
  FILE_OPEN_EVENT_SIZE,
  FILE_OPEN_RECORD,
  type FileOpenEvent,
  FileOpenFlag,
  LogsCounter,
} from "./file_records.ts";
export { decodeJournalEntries, Journal, type JournalChange, type JournalEntry } from "./journal.ts";
export { addressBytes, formatAddress, type IpAddress, parseIpAddress } from "./ip_address.ts";
export { ABI_VERSION, FILE_STAT_SIZE } from "./symbols.ts";
export {
  decodeTcpEvent,
  emptyTcpEvent,
  forEachTcpConn,
  socketKey,
  TCP_CONN_SIZE,
  TCP_EVENT_SIZE,
  type TcpConnEntry,
  TcpCounter,
  type TcpEvent,
  type TcpEventType,
  TcpFlag,
  TcpRecordType,
  TcpState,
} from "./tcp_records.ts";
export {
  decodeL7Event,
  emptyL7Event,
  fillL7Addresses,
  L7_PAYLOAD_MAX,
  L7_RECORD_TYPE,
  L7Counter,
  type L7Event,
  L7Flag,
  l7RecordType,
  l7RemoteAddress,
  l7SameRemote,
} from "./l7_records.ts";
