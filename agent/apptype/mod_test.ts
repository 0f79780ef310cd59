import { equal } from "node:assert/strict";
import { commandOf, guessByCmdline, guessByExe, isDotnetCommand } from "./mod.ts";

/** `/proc/<pid>/cmdline` of an argv: each argument NUL-terminated. */
const cl = (...argv: string[]) => argv.map((a) => a + "\0").join("");

Deno.test("commandOf: argv[0]'s first word, one trailing colon dropped", () => {
  equal(
    commandOf(cl("/usr/lib/postgresql/15/bin/postgres", "-D", "/x")),
    "/usr/lib/postgresql/15/bin/postgres",
  );
  equal(commandOf("postgres: 15/main: checkpointer \0"), "postgres");
  equal(commandOf(cl("nginx: worker process")), "nginx");
  equal(commandOf(cl("redis-server *:6379")), "redis-server");
  equal(commandOf(cl("a::")), "a:");
  equal(commandOf(cl(":")), "");
  equal(commandOf(cl("\t\u00a0x y")), "x"); // Go's spaces, NBSP included
  equal(commandOf(cl("x\ufeffy")), "x\ufeffy"); // U+FEFF is no space to Go
  equal(commandOf(cl("", "java")), undefined);
  equal(commandOf(cl("  ")), undefined);
  equal(commandOf(""), undefined);
});

Deno.test("guessByCmdline: databases, queues and servers, exact values (§8.4)", () => {
  const cases: [string, string][] = [
    [cl("/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql"), "postgres"],
    ["postgres: 15/main: walwriter \0", "postgres"],
    [cl("/usr/sbin/mysqld"), "mysql"],
    [cl("mariadbd", "--user=mysql"), "mysql"],
    [cl("/opt/mssql/bin/sqlservr"), "mssql"],
    [cl("redis-server *:6379"), "redis"],
    [cl("redis-sentinel *:26379"), "redis-sentinel"],
    [cl("keydb-server"), "keydb"],
    [cl("valkey-server"), "valkey"],
    [cl("dragonfly", "--logtostderr"), "dragonfly"],
    [cl("mongod", "--config", "/etc/mongod.conf"), "mongodb"],
    [cl("mongos"), "mongos"],
    [cl("memcached", "-m", "64"), "memcached"],
    [cl("pgbouncer", "/etc/pgbouncer.ini"), "pgbouncer"],
    [cl("nginx: master process /usr/sbin/nginx"), "nginx"],
    [cl("/usr/sbin/httpd", "-DFOREGROUND"), "httpd"],
    [cl("/usr/local/apache2/bin/apache"), "httpd"],
    [cl("haproxy", "-f", "/etc/haproxy.cfg"), "haproxy"],
    [cl("envoy", "-c", "/etc/envoy.yaml"), "envoy"],
    [cl("traefik"), "traefik"],
    [cl("/usr/bin/clickhouse-server", "--config-file=/etc/c.xml"), "clickhouse"],
    [cl("/usr/bin/asd", "--foreground"), "aerospike"],
    [cl("influxd"), "influxdb"],
    [cl("vault", "server"), "vault"],
    [cl("proxysql", "-f"), "proxysql"],
    [cl("cockroach", "start"), "cockroach"],
    [cl("/bin/prometheus", "--config.file=x"), "prometheus"],
    [cl("ceph-osd", "-f"), "ceph"],
    [cl("/usr/local/bin/cephcsi", "--type=rbd"), "ceph"],
    [cl("rook", "ceph", "operator"), "rook"],
    [cl("nats-server", "-js"), "nats"],
    [cl("ollama", "serve"), "ollama"],
    [cl("fdbserver", "--cluster-file"), "foundationdb"],
    [cl("/victoria-metrics-prod", "-retentionPeriod=1"), "victoria-metrics"],
    [cl("/vmstorage-prod"), "victoria-metrics"],
    [cl("/victoria-logs-prod"), "victoria-logs"],
    [cl("/usr/bin/kubelet", "--config=x"), "kubelet"],
    [cl("kube-apiserver"), "kube-apiserver"],
    [cl("/usr/local/bin/k3s", "server"), "k3s"],
    [cl("etcd"), "etcd"],
    [cl("/usr/bin/dockerd", "-H", "fd://"), "dockerd"],
    [cl("consul", "agent"), "consul"],
    [cl("/coroot", "--listen=:8080"), "coroot-community-edition"],
    [cl("/usr/bin/coroot-node-agent"), "coroot-node-agent"],
    [cl("w3wp.exe"), ""], // a suffix: w3wp only
    [cl("c:\\w3wp"), "dotnet"],
  ];
  for (const [cmdline, type] of cases) equal(guessByCmdline(cmdline), type, cmdline);
});

Deno.test("guessByCmdline: binary names match as suffixes, as in the reference", () => {
  equal(guessByCmdline(cl("/opt/my-postgres")), "postgres");
  equal(guessByCmdline(cl("/usr/sbin/apache2", "-k", "start")), ""); // ends in "2"
  equal(guessByCmdline(cl("mysqld_safe")), ""); // mysqld's wrapper script
  equal(guessByCmdline(cl("postmaster")), "");
  equal(guessByCmdline(cl("openresty")), "");
  equal(guessByCmdline(cl("clickhouse", "server")), ""); // only clickhouse-server
  equal(guessByCmdline(cl("/usr/bin/lasd")), "aerospike");
  // the first rule in the reference's order wins
  equal(guessByCmdline(cl("/usr/bin/coroot-coroot")), "coroot-community-edition");
  equal(guessByCmdline(cl("nginx", "-c", "kafka.Kafka")), "kafka");
});

Deno.test("guessByCmdline: JVM main classes give a type only for the six the contract lists (§13.8)", () => {
  const java = (...args: string[]) => cl("/usr/lib/jvm/java-17/bin/java", "-Xmx1g", ...args);
  equal(guessByCmdline(java("org.elasticsearch.bootstrap.Elasticsearch")), "elasticsearch");
  equal(guessByCmdline(java("org.opensearch.bootstrap.OpenSearch")), "opensearch");
  equal(guessByCmdline(java("kafka.Kafka", "server.properties")), "kafka");
  equal(guessByCmdline(java("io.confluent.support.metrics.SupportedKafka")), "kafka");
  equal(
    guessByCmdline(java("org.apache.zookeeper.server.quorum.QuorumPeerMain", "z.cfg")),
    "zookeeper",
  );
  equal(guessByCmdline(java("org.apache.cassandra.service.CassandraDaemon")), "cassandra");
  equal(guessByCmdline(java("org.apache.catalina.startup.Bootstrap", "start")), "tomcat");
  // ZooKeeper's standalone main, other products and plain applications: java
  equal(guessByCmdline(java("org.apache.zookeeper.server.ZooKeeperServerMain")), "java");
  equal(guessByCmdline(java("org.apache.flink.runtime.taskexecutor.TaskManagerRunner")), "java");
  equal(guessByCmdline(java("-jar", "app.jar")), "java");
  // the class anywhere in the command line, whatever the binary
  equal(
    guessByCmdline(cl("/opt/es/bin/run", "org.elasticsearch.bootstrap.Elasticsearch")),
    "elasticsearch",
  );
});

Deno.test("guessByCmdline: Erlang VMs by what they run", () => {
  equal(
    guessByCmdline(cl("/usr/lib/erlang/erts-13/bin/beam.smp", "--", "-s", "rabbit", "boot")),
    "rabbitmq",
  );
  equal(
    guessByCmdline(cl("/opt/couchbase/lib/erlang/bin/beam.smp", "-name", "ns_1@couchbase")),
    "couchbase",
  );
  equal(guessByCmdline(cl("/usr/lib/erlang/erts-13/bin/beam.smp", "-s", "ejabberd")), "");
  // Couchbase's memcached is memcached to the reference
  equal(guessByCmdline(cl("/opt/couchbase/bin/memcached", "-C", "/x")), "memcached");
});

Deno.test("guessByCmdline: interpreters with and without versions", () => {
  const cases: [string, string][] = [
    [cl("python3.11", "app.py"), "python"],
    [cl("/usr/bin/python", "-m", "http.server"), "python"],
    [cl("/usr/local/bin/python3", "manage.py"), "python"],
    [cl("python3.11d"), ""],
    [cl("php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"), "php"],
    [cl("php-fpm8.2"), "php"],
    [cl("php8.2-fpm"), ""],
    [cl("/usr/bin/php-cgi"), "php"],
    [cl("node", "server.js"), "nodejs"],
    [cl("/usr/bin/nodejs18"), "nodejs"],
    [cl("ruby3.1", "app.rb"), "ruby"],
    [cl("puma 6.4.0 (tcp://0.0.0.0:3000) [app]"), ""], // the exe link decides (below)
    [cl("gunicorn: master [app]"), ""],
    [cl("sleep", "300"), ""],
    [cl("sh"), ""],
  ];
  for (const [cmdline, type] of cases) equal(guessByCmdline(cmdline), type, cmdline);
});

Deno.test("guessByCmdline: empty and blank command lines give nothing", () => {
  equal(guessByCmdline(""), "");
  equal(guessByCmdline("\0"), "");
  equal(guessByCmdline(cl("", "kafka.Kafka")), "");
  equal(guessByCmdline(cl("   ", "kafka.Kafka")), ""); // the reference fails on this one
  // an empty cmd still lets a main class decide
  equal(guessByCmdline(cl(": x", "kafka.Kafka")), "kafka");
});

Deno.test("guessByExe: the four interpreters by the executable's path", () => {
  equal(guessByExe("/usr/bin/python3.11"), "python");
  equal(guessByExe("/usr/local/bin/ruby"), "ruby");
  equal(guessByExe("/usr/bin/node"), "nodejs");
  equal(guessByExe("/usr/sbin/php-fpm8.2"), "php");
  equal(guessByExe("/usr/sbin/postgres"), "");
  equal(guessByExe("/usr/bin/python3.11 (deleted)"), "");
  equal(guessByExe(""), "");
});

Deno.test("isDotnetCommand: `dotnet <app>.dll`", () => {
  equal(isDotnetCommand(cl("dotnet", "Accounting.dll")), true);
  equal(isDotnetCommand(cl("/usr/share/dotnet/dotnet", "/app/Api.dll", "--urls=x")), true);
  equal(isDotnetCommand(cl("dotnet", "run")), false);
  equal(isDotnetCommand(cl("dotnet")), false);
  equal(isDotnetCommand("dotnet Accounting.dll"), false); // one argument
});
