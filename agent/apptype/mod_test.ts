import { equal } from "node:assert/strict";
import { deepEqual } from "node:assert/strict";
import { applicationType, baseName, parseCmdline } from "./mod.ts";

const t = (argv: string[], exe = "") => applicationType({ argv, exe });

Deno.test("baseName takes the first word of a process title and drops the path and colon", () => {
  equal(baseName("/usr/lib/postgresql/15/bin/postgres"), "postgres");
  equal(baseName("postgres: 15/main: checkpointer"), "postgres");
  equal(baseName("nginx: worker process"), "nginx");
  equal(baseName("redis-server *:6379"), "redis-server");
  equal(baseName("php-fpm: pool www"), "php-fpm");
  equal(baseName(""), "");
});

Deno.test("parseCmdline splits on NUL and drops the trailing one", () => {
  deepEqual(parseCmdline("sleep\u0000300\u0000"), ["sleep", "300"]);
  deepEqual(parseCmdline("nginx: master process /usr/sbin/nginx"), [
    "nginx: master process /usr/sbin/nginx",
  ]);
  deepEqual(parseCmdline(""), []);
});

Deno.test("databases, queues and servers from their binary names", () => {
  const cases: [string[], string, string][] = [
    [["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql"], "", "postgres"],
    [["postgres: 15/main: walwriter"], "/usr/lib/postgresql/15/bin/postgres", "postgres"],
    [["/usr/sbin/mysqld"], "", "mysql"],
    [["mariadbd", "--user=mysql"], "", "mysql"],
    [["/opt/mssql/bin/sqlservr"], "", "mssql"],
    [["redis-server *:6379"], "/usr/bin/redis-server", "redis"],
    [["redis-sentinel *:26379"], "", "redis-sentinel"],
    [["keydb-server"], "", "keydb"],
    [["valkey-server"], "", "valkey"],
    [["dragonfly", "--logtostderr"], "", "dragonfly"],
    [["mongod", "--config", "/etc/mongod.conf"], "", "mongodb"],
    [["mongos"], "", "mongos"],
    [["memcached", "-m", "64"], "", "memcached"],
    [["pgbouncer", "/etc/pgbouncer.ini"], "", "pgbouncer"],
    [["nginx: master process /usr/sbin/nginx"], "/usr/sbin/nginx", "nginx"],
    [["/usr/sbin/apache2", "-k", "start"], "", "httpd"],
    [["httpd", "-DFOREGROUND"], "", "httpd"],
    [["haproxy", "-f", "/etc/haproxy.cfg"], "", "haproxy"],
    [["envoy", "-c", "/etc/envoy.yaml"], "", "envoy"],
    [["traefik"], "", "traefik"],
    [["/usr/bin/clickhouse-server", "--config-file=/etc/c.xml"], "", "clickhouse"],
    [["clickhouse", "server"], "", "clickhouse"],
    [["/usr/bin/asd", "--foreground"], "", "aerospike"],
    [["influxd"], "", "influxdb"],
    [["vault", "server"], "", "vault"],
    [["proxysql", "-f"], "", "proxysql"],
    [["cockroach", "start"], "", "cockroach"],
    [["/bin/prometheus", "--config.file=x"], "", "prometheus"],
    [["ceph-osd", "-f"], "", "ceph"],
    [["rook", "ceph", "operator"], "", "rook"],
    [["nats-server", "-js"], "", "nats"],
    [["ollama", "serve"], "", "ollama"],
    [["fdbserver", "--cluster-file"], "", "foundationdb"],
    [["/victoria-metrics-prod", "-retentionPeriod=1"], "", "victoria-metrics"],
    [["vmstorage"], "", "victoria-metrics"],
    [["/victoria-logs-prod"], "", "victoria-logs"],
    [["consul", "agent"], "", "consul"],
    [["etcd", "--name", "x"], "", "etcd"],
    [["/usr/bin/dockerd", "-H", "fd://"], "", "dockerd"],
    [["/usr/bin/kubelet", "--config=x"], "", "kubelet"],
    [["kube-apiserver"], "", "kube-apiserver"],
    [["kube-controller-manager"], "", "kube-controller-manager"],
    [["kube-scheduler"], "", "kube-scheduler"],
    [["/usr/local/bin/k3s", "server"], "", "k3s"],
    [["k3s-server"], "", "k3s"],
    [["/opt/coroot/coroot"], "", "coroot-community-edition"],
    [["coroot-node-agent"], "", "coroot-node-agent"],
    [["coroot-cluster-agent"], "", "coroot-cluster-agent"],
    [["dotnet", "app.dll"], "", "dotnet"],
    [["c:\\windows\\w3wp"], "/usr/bin/w3wp", "dotnet"],
  ];
  for (const [argv, exe, want] of cases) equal(t(argv, exe), want, argv.join(" "));
});

Deno.test("JVM products by main class, else java", () => {
  equal(
    t(["java", "-Xmx1g", "-cp", "/opt/kafka/libs/*", "kafka.Kafka", "server.properties"]),
    "kafka",
  );
  equal(t(["/usr/bin/java", "org.elasticsearch.bootstrap.Elasticsearch"]), "elasticsearch");
  equal(t(["java", "org.opensearch.bootstrap.OpenSearch"]), "opensearch");
  equal(
    t(["java", "-cp", "zk.jar", "org.apache.zookeeper.server.quorum.QuorumPeerMain", "z.cfg"]),
    "zookeeper",
  );
  equal(t(["java", "org.apache.cassandra.service.CassandraDaemon"]), "cassandra");
  equal(t(["java", "org.apache.catalina.startup.Bootstrap", "start"]), "tomcat");
  equal(t(["java", "-jar", "app.jar"]), "java");
  equal(t(["app"], "/usr/lib/jvm/java-17/bin/java"), "java");
});

Deno.test("Erlang VMs: RabbitMQ and Couchbase, else nothing", () => {
  equal(t(["/usr/lib/erlang/erts-13/bin/beam.smp", "--", "-s", "rabbit", "boot"]), "rabbitmq");
  equal(t(["/opt/couchbase/lib/erlang/erts/bin/beam.smp", "-name", "ns_1"]), "couchbase");
  equal(t(["/opt/couchbase/bin/memcached", "-C", "/opt/couchbase/var"]), "couchbase");
  equal(t(["beam.smp", "-s", "myapp"]), "");
});

Deno.test("interpreters", () => {
  equal(t(["python3", "app.py"]), "python");
  equal(t(["/usr/bin/python3.11", "-m", "http.server"]), "python");
  equal(t(["python"]), "python");
  equal(t(["gunicorn", "app:app"]), "python");
  equal(t(["php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"]), "php");
  equal(t(["php-fpm8.2"]), "php");
  equal(t(["php", "artisan"]), "php");
  equal(t(["node", "server.js"]), "nodejs");
  equal(t(["ruby", "app.rb"]), "ruby");
  equal(t(["puma 6.0 (tcp://0.0.0.0:3000)"]), "ruby");
});

Deno.test("unknown processes have no type; the executable is a fallback", () => {
  equal(t(["sleep", "300"]), "");
  equal(t([]), "");
  equal(t([""], ""), "");
  equal(t(["my-renamed-title"], "/usr/sbin/nginx"), "nginx");
  equal(t(["pythonista"]), "");
});
