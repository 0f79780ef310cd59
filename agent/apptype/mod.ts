/**
 * Application types of a process (reference §8.4, errata §13.8): the values of
 * `container_application_type{application_type}`, decided exactly as coroot-node-agent decides
 * them, so dashboards and Coroot's inspections key on the same values.
 *
 * **From the command line** ({@linkcode guessByCmdline}), the first rule that matches, in the
 * order of {@linkcode CMDLINE_RULES}, where `cmd` is the first whitespace-separated word of
 * argv[0] (its path included) without one trailing `:` (process titles such as
 * `postgres: checkpointer`), and "the command line" is all of `/proc/<pid>/cmdline`:
 * - `cmd` ends with a product's binary name (`…/postgres`, `…/redis-server`, `…/nginx`, ...;
 *   a suffix, so `/usr/bin/my-postgres` is postgres too);
 * - the command line contains a JVM product's main class anywhere: Elasticsearch, OpenSearch,
 *   Kafka (and Confluent's SupportedKafka), ZooKeeper's `QuorumPeerMain`, Cassandra and Tomcat
 *   only; every other JVM whose `cmd` ends in `java` is `java`;
 * - `beam.smp` with `rabbit` or `couch` in the command line: rabbitmq, couchbase;
 * - `cmd` contains `victoria-metrics`, `vmstorage`, `vminsert`, `vmselect` or `victoria-logs`;
 * - `cmd` ends in `php`, `php-fpm` or `php-cgi`, `python`, `node` or `nodejs`, `ruby`, each
 *   optionally followed by a version such as `3.11` (`python3.11`, `php-fpm8.2`).
 *
 * **From the executable** ({@linkcode guessByExe}), only when the command line gave nothing:
 * the `/proc/<pid>/exe` link's target ending in one of the four interpreters above (a script
 * run as `./app.py` or a renamed process title).
 *
 * **From the binary** (elf.ts, exe.ts): `golang` (Go build info), `rust` (a `rustc version`
 * note), `dotnet` (.NET's application host); and `dotnet` also for `dotnet <app>.dll`
 * ({@linkcode isDotnetCommand}). These add to the command-line type: a Go binary named
 * `prometheus` is both `prometheus` and `golang`. The binary is read through
 * `<proc>/<pid>/exe` with libosprey (Deno's file APIs cannot follow that link under scoped
 * permissions; exe.ts says why).
 *
 * A process with an empty command line (a zombie, a kernel thread) has no type at all.
 *
 * @module
 */

export { ElfError, type ElfFacts, type ElfProblem, readElfFacts } from "./elf.ts";
export {
  brokerFileReader,
  ExeInspector,
  type ExeInspectorOptions,
  type ExeOutcome,
  type FileReader,
  libraryFileReader,
  nodeFileReader,
  type ReadStat,
} from "./exe.ts";

/** A rule of {@linkcode CMDLINE_RULES}: what it looks at, the needles, the type. */
export interface CmdlineRule {
  /**
   * `suffix`: `cmd` ends with a needle; `contains`: `cmd` contains one; `cmdline`: the whole
   * command line contains one; `beam`: `cmd` ends with `beam.smp` and the command line
   * contains a needle.
   */
  readonly test: "suffix" | "contains" | "cmdline" | "beam";
  readonly needles: readonly string[];
  readonly type: string;
}

function r(test: CmdlineRule["test"], type: string, ...needles: string[]): CmdlineRule {
  return { test, needles, type };
}

/** The reference's command-line rules, in its order (the first match wins). */
export const CMDLINE_RULES: readonly CmdlineRule[] = [
  r("suffix", "coroot-community-edition", "coroot"),
  r("suffix", "coroot-enterprise-edition", "coroot-ee"),
  r("suffix", "coroot-node-agent", "coroot-node-agent"),
  r("suffix", "coroot-cluster-agent", "coroot-cluster-agent"),
  r("suffix", "coroot-operator", "coroot-operator"),
  r("suffix", "memcached", "memcached"),
  r("suffix", "envoy", "envoy"),
  r("cmdline", "elasticsearch", "org.elasticsearch.bootstrap"),
  r("cmdline", "opensearch", "org.opensearch.bootstrap"),
  r("cmdline", "kafka", "kafka.Kafka", "io.confluent.support.metrics.SupportedKafka"),
  r("suffix", "mongodb", "mongod"),
  r("suffix", "mongos", "mongos"),
  r("suffix", "mysql", "mysqld", "mariadbd"),
  r("suffix", "mssql", "sqlservr"),
  r("cmdline", "zookeeper", "org.apache.zookeeper.server.quorum.QuorumPeerMain"),
  r("suffix", "redis", "redis-server"),
  r("suffix", "redis-sentinel", "redis-sentinel"),
  r("suffix", "keydb", "keydb-server"),
  r("suffix", "valkey", "valkey-server"),
  r("suffix", "dragonfly", "dragonfly"),
  r("beam", "rabbitmq", "rabbit"),
  r("beam", "couchbase", "couch"),
  r("suffix", "pgbouncer", "pgbouncer"),
  r("suffix", "postgres", "postgres"),
  r("suffix", "haproxy", "haproxy"),
  r("suffix", "nginx", "nginx"),
  r("suffix", "dotnet", "w3wp"),
  r("suffix", "kubelet", "kubelet"),
  r("suffix", "kube-apiserver", "kube-apiserver"),
  r("suffix", "kube-controller-manager", "kube-controller-manager"),
  r("suffix", "kube-scheduler", "kube-scheduler"),
  r("suffix", "k3s", "k3s"),
  r("suffix", "etcd", "etcd"),
  r("suffix", "dockerd", "dockerd"),
  r("suffix", "consul", "consul"),
  r("cmdline", "cassandra", "org.apache.cassandra.service.CassandraDaemon"),
  r("suffix", "clickhouse", "clickhouse-server"),
  r("suffix", "traefik", "traefik"),
  r("suffix", "aerospike", "asd"),
  r("suffix", "httpd", "httpd", "apache"),
  r("suffix", "influxdb", "influxd"),
  r("cmdline", "tomcat", "org.apache.catalina.startup.Bootstrap"),
  r("suffix", "vault", "vault"),
  r("suffix", "proxysql", "proxysql"),
  r("suffix", "cockroach", "cockroach"),
  r("suffix", "prometheus", "prometheus"),
  r("suffix", "ceph", "ceph-mon", "ceph-mgr", "ceph-osd", "cephcsi"),
  r("suffix", "rook", "rook"),
  r("suffix", "nats", "nats-server"),
  r("suffix", "java", "java"),
  r("suffix", "ollama", "ollama"),
  r("suffix", "foundationdb", "fdbserver"),
  r("contains", "victoria-metrics", "victoria-metrics", "vmstorage", "vminsert", "vmselect"),
  r("contains", "victoria-logs", "victoria-logs"),
];

/** Interpreters recognised by the end of `cmd` or of the executable's path, in this order. */
const INTERPRETERS: readonly (readonly [RegExp, string])[] = [
  [/php(-fpm|-cgi)?\d*\.?\d*$/, "php"],
  [/python\d*\.?\d*$/, "python"],
  [/node(js)?\d*\.?\d*$/, "nodejs"],
  [/ruby\d*\.?\d*$/, "ruby"],
];

/** What Go's `unicode.IsSpace` calls space (JavaScript's `\s` differs on U+0085, U+FEFF). */
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * The `cmd` of a command line: argv[0]'s first whitespace-separated word, without one trailing
 * `:` (so `:` alone gives ""); undefined when argv[0] is empty or only whitespace.
 *
 * @param cmdline `/proc/<pid>/cmdline` as read (NUL-separated arguments)
 */
export function commandOf(cmdline: string): string | undefined {
  const nul = cmdline.indexOf("\0");
  const argv0 = nul < 0 ? cmdline : cmdline.slice(0, nul);
  const word = argv0.split(SPACE).find((w) => w !== "");
  if (word === undefined) return undefined;
  return word.endsWith(":") ? word.slice(0, -1) : word;
}

function interpreter(s: string): string {
  for (const [re, type] of INTERPRETERS) if (re.test(s)) return type;
  return "";
}

/**
 * The application type a command line names, or "".
 *
 * @param cmdline `/proc/<pid>/cmdline` as read (NUL-separated arguments)
 * @example
 * ```ts
 * guessByCmdline("postgres: checkpointer \0"); // "postgres"
 * guessByCmdline("java\0-cp\0x.jar\0kafka.Kafka\0server.properties\0"); // "kafka"
 * ```
 */
export function guessByCmdline(cmdline: string): string {
  const cmd = commandOf(cmdline);
  // the reference stops at an empty argv[0] (and fails on a blank one); an empty cmd ("x:"
  // minus its colon, ":") still goes through the command-line rules
  if (cmd === undefined) return "";
  for (const rule of CMDLINE_RULES) {
    const hit = rule.test === "suffix"
      ? rule.needles.some((n) => cmd.endsWith(n))
      : rule.test === "contains"
      ? rule.needles.some((n) => cmd.includes(n))
      : rule.test === "cmdline"
      ? rule.needles.some((n) => cmdline.includes(n))
      : cmd.endsWith("beam.smp") && rule.needles.some((n) => cmdline.includes(n));
    if (hit) return rule.type;
  }
  return interpreter(cmd);
}

/**
 * The application type an executable's path names (php, python, nodejs, ruby), or "".
 *
 * @param exe the target of `/proc/<pid>/exe`, as the process's mount namespace names it
 */
export function guessByExe(exe: string): string {
  return interpreter(exe);
}

/**
 * Whether a command line runs a .NET application through the `dotnet` host: argv[0] ends with
 * `dotnet` and argv[1] with `.dll` (`dotnet Accounting.dll`).
 */
export function isDotnetCommand(cmdline: string): boolean {
  const argv = cmdline.split("\0");
  return argv.length >= 2 && argv[0].endsWith("dotnet") && argv[1].endsWith(".dll");
}
