/**
 * cgroups: which container a process belongs to, and that container's resource counters.
 *
 * - `/proc/<pid>/cgroup` (bytes, decoded without loss) → {@linkcode parseProcCgroup} →
 *   {@linkcode CgroupNamespace.resolve} (paths of an agent in its own cgroup namespace rebased
 *   onto the mounted hierarchies; {@linkcode readCgroupNamespace} once at start) →
 *   {@linkcode primaryCgroupPath} → {@linkcode classifyCgroup} (pure: runtime, container ID, pod,
 *   or why not a container).
 * - {@linkcode detectCgroupFs} once per host, {@linkcode cgroupDirs} per cgroup, then
 *   {@linkcode readCpu}, {@linkcode readMemory}, {@linkcode readIo}, {@linkcode readPsi}
 *   (synchronous; pass a {@linkcode KeptFiles} to keep descriptors open between rounds, with a
 *   {@linkcode LibraryRawFiles} for cgroup paths that are not UTF-8).
 * - Errors: {@linkcode CgroupFormatError} from parsers, {@linkcode CgroupReadError} from
 *   readers; nothing else is thrown for bad input.
 *
 * @module
 */
export { CgroupFormatError, CgroupReadError, type CgroupReadProblem } from "./errors.ts";
export { parseProcCgroup, primaryCgroupPath, type ProcCgroups } from "./proc_cgroup.ts";
export { type CgroupClass, classifyCgroup, type ContainerRuntime } from "./classify.ts";
export {
  CgroupNamespace,
  type CgroupNamespaceOptions,
  describeNamespace,
  detectCgroupNamespace,
  type HierarchyNamespace,
  identityNamespace,
  readCgroupNamespace,
  type ResolvedCgroups,
} from "./namespace.ts";
export {
  type CgroupDirs,
  cgroupDirs,
  type CgroupFs,
  type CgroupLayout,
  detectCgroupFs,
} from "./fs.ts";
export {
  type BlkioCounts,
  flatKeyedValues,
  type IoStat,
  parseBlkio,
  parseCpuMax,
  parseFlatKeyed,
  parseInteger,
  parseIoStat,
  parseMemoryMax,
  parsePressure,
  parseSingleValue,
  parseV1CpuLimit,
  parseV1MemoryLimit,
  type Pressure,
  requireKey,
  V1_NO_MEMORY_LIMIT,
} from "./parse.ts";
export {
  type CgroupFileSource,
  type CpuStats,
  directFiles,
  KeptFiles,
  type KeptFilesOptions,
  type MemoryStats,
  type PsiStats,
  type RawOpenFile,
  type RawPathFiles,
  RawPathsUnavailable,
  readCpu,
  readIo,
  readMemory,
  readPsi,
} from "./read.ts";
export { LibraryRawFiles, type LibraryRawFilesOptions, RawPathRefused } from "./raw_files.ts";
