/**
 * Application type of a process from its command line and executable (reference §8.4): the
 * value of `container_application_type{application_type}`.
 *
 * The vocabulary is the one Coroot's UI keys icons and inspections on (lower case, e.g.
 * `postgres`, `redis`, `victoria-metrics`, `coroot-community-edition`). Detection looks, in this
 * order, at the executable's directory (a few products ship generic binary names under their own
 * prefix), the base name of argv[0] and of the executable (process titles such as
 * `postgres: checkpointer` count by their first word), and, for interpreters and JVMs, at the
 * arguments (a main class, a script name).
 *
 * Not done here: `golang`, `rust` and `dotnet` by runtime detection (reading ELF sections or
 * mapped libraries); only a `dotnet` host binary or IIS's `w3wp` give `dotnet`.
 *
 * @module
 */

/** What a process is known by. */
export interface ProcessCommand {
  /** argv, as read from `/proc/<pid>/cmdline` (NUL-separated). */
  readonly argv: readonly string[];
  /** The executable, from the `/proc/<pid>/exe` link or an exec event's filename; "" if unknown. */
  readonly exe?: string;
}

/** Base names (exact) → type. */
const BY_NAME: ReadonlyMap<string, string> = new Map([
  ["coroot", "coroot-community-edition"],
  ["coroot-ee", "coroot-enterprise-edition"],
  ["coroot-node-agent", "coroot-node-agent"],
  ["coroot-cluster-agent", "coroot-cluster-agent"],
  ["coroot-operator", "coroot-operator"],
  ["memcached", "memcached"],
  ["envoy", "envoy"],
  ["mongod", "mongodb"],
  ["mongos", "mongos"],
  ["mysqld", "mysql"],
  ["mariadbd", "mysql"],
  ["mysqld_safe", "mysql"],
  ["sqlservr", "mssql"],
  ["redis-server", "redis"],
  ["redis-sentinel", "redis-sentinel"],
  ["keydb-server", "keydb"],
  ["valkey-server", "valkey"],
  ["valkey-sentinel", "redis-sentinel"],
  ["dragonfly", "dragonfly"],
  ["pgbouncer", "pgbouncer"],
  ["postgres", "postgres"],
  ["postmaster", "postgres"],
  ["haproxy", "haproxy"],
  ["nginx", "nginx"],
  ["openresty", "nginx"],
  ["w3wp", "dotnet"],
  ["dotnet", "dotnet"],
  ["kubelet", "kubelet"],
  ["kube-apiserver", "kube-apiserver"],
  ["kube-controller-manager", "kube-controller-manager"],
  ["kube-scheduler", "kube-scheduler"],
  ["k3s", "k3s"],
  ["k3s-server", "k3s"],
  ["k3s-agent", "k3s"],
  ["etcd", "etcd"],
  ["dockerd", "dockerd"],
  ["consul", "consul"],
  ["clickhouse", "clickhouse"],
  ["clickhouse-server", "clickhouse"],
  ["clickhouse-keeper", "clickhouse"],
  ["traefik", "traefik"],
  ["asd", "aerospike"],
  ["httpd", "httpd"],
  ["apache2", "httpd"],
  ["influxd", "influxdb"],
  ["vault", "vault"],
  ["proxysql", "proxysql"],
  ["cockroach", "cockroach"],
  ["prometheus", "prometheus"],
  ["ceph-mon", "ceph"],
  ["ceph-mgr", "ceph"],
  ["ceph-osd", "ceph"],
  ["ceph-mds", "ceph"],
  ["radosgw", "ceph"],
  ["rook", "rook"],
  ["nats-server", "nats"],
  ["gnatsd", "nats"],
  ["ollama", "ollama"],
  ["fdbserver", "foundationdb"],
  ["fdbmonitor", "foundationdb"],
  ["victoria-metrics", "victoria-metrics"],
  ["victoria-metrics-prod", "victoria-metrics"],
  ["vmstorage", "victoria-metrics"],
  ["vminsert", "victoria-metrics"],
  ["vmselect", "victoria-metrics"],
  ["vmagent", "victoria-metrics"],
  ["victoria-logs", "victoria-logs"],
  ["victoria-logs-prod", "victoria-logs"],
  ["node", "nodejs"],
  ["nodejs", "nodejs"],
  ["ruby", "ruby"],
  ["puma", "ruby"],
  ["unicorn", "ruby"],
  ["java", "java"],
]);

/** Base-name patterns (versioned interpreters and pool workers). */
const BY_PATTERN: readonly (readonly [RegExp, string])[] = [
  [/^python(\d+(\.\d+)*)?[dmu]*$/, "python"],
  [/^(uwsgi|gunicorn|celery)$/, "python"],
  [/^php(\d+(\.\d+)*)?(-fpm(\d+(\.\d+)*)?|-cgi)?$/, "php"],
  [/^ruby\d+(\.\d+)*$/, "ruby"],
  [/^beam(\.smp)?$/, "erlang"],
];

/** Main classes of JVM products, matched anywhere in the arguments. */
const JAVA_MAIN: readonly (readonly [string, string])[] = [
  ["org.elasticsearch.bootstrap.Elasticsearch", "elasticsearch"],
  ["org.opensearch.bootstrap.OpenSearch", "opensearch"],
  ["kafka.Kafka", "kafka"],
  ["org.apache.zookeeper.server.quorum.QuorumPeerMain", "zookeeper"],
  ["org.apache.zookeeper.server.ZooKeeperServerMain", "zookeeper"],
  ["org.apache.cassandra.service.CassandraDaemon", "cassandra"],
  ["org.apache.catalina.startup.Bootstrap", "tomcat"],
];

/**
 * The last path component of a command's first word, without a trailing colon: process titles
 * such as `postgres: checkpointer`, `nginx: worker process` or `redis-server *:6379` name the
 * program by their first word.
 */
export function baseName(path: string): string {
  let s = path.trim().split(/\s+/, 1)[0] ?? "";
  while (s.endsWith(":")) s = s.slice(0, -1);
  const slash = s.lastIndexOf("/");
  return slash >= 0 ? s.slice(slash + 1) : s;
}

function byName(name: string): string {
  const exact = BY_NAME.get(name);
  if (exact !== undefined) return exact;
  for (const [re, type] of BY_PATTERN) if (re.test(name)) return type;
  return "";
}

function javaType(argv: readonly string[]): string {
  for (const arg of argv) {
    for (const [cls, type] of JAVA_MAIN) if (arg === cls || arg.endsWith(`/${cls}`)) return type;
  }
  return "java";
}

function erlangType(argv: readonly string[]): string {
  const joined = argv.join(" ");
  if (/\bcouchbase\b|ns_server/.test(joined)) return "couchbase";
  if (/\brabbit(mq)?\b/.test(joined)) return "rabbitmq";
  return "";
}

/**
 * The application type of a process, or "" when it is none of the known ones.
 *
 * @example
 * ```ts
 * applicationType({ argv: ["postgres: checkpointer"] }); // "postgres"
 * applicationType({ argv: ["java", "-cp", "x.jar", "kafka.Kafka", "server.properties"] }); // "kafka"
 * ```
 */
export function applicationType(cmd: ProcessCommand): string {
  const argv = cmd.argv;
  const exe = cmd.exe ?? "";
  // Couchbase ships its own memcached and an Erlang VM under /opt/couchbase.
  if (/\/couchbase\//.test(exe) || (argv[0] !== undefined && /\/couchbase\//.test(argv[0]))) {
    return "couchbase";
  }
  const names: string[] = [];
  if (argv.length > 0 && argv[0] !== "") names.push(baseName(argv[0]));
  if (exe !== "") names.push(baseName(exe));
  for (const name of names) {
    const type = byName(name);
    if (type === "") continue;
    if (type === "java") return javaType(argv);
    if (type === "erlang") {
      const e = erlangType(argv);
      if (e !== "") return e;
      continue;
    }
    return type;
  }
  return "";
}

/** Splits the raw contents of `/proc/<pid>/cmdline` into argv (NUL-separated, trailing NUL). */
export function parseCmdline(raw: string): string[] {
  if (raw === "") return [];
  const parts = raw.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  // A process that rewrote its title into one space-separated string (nginx, postgres) leaves
  // one element; keep it as argv[0] and let baseName take its first word.
  return parts;
}
