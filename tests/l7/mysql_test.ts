/**
 * MySQL end to end on the real kernel: Debian's MariaDB 10.11 server (`mariadb-install-db` into a
 * temporary datadir, `mariadbd` on its own socket and on 3306 of namespace b only, with
 * `--skip-grant-tables`; never the system instance) in a "container", its clients in another in
 * namespace a, the agent as a child process with `-P=agent`.
 *
 * Before the counted part, one `mariadb` connection makes a table with 3 rows. Then:
 * - the `mariadb` CLI (libmariadb, text protocol `COM_QUERY`), one connection: 10 SELECTs
 *   returning the 3 rows (MariaDB answers with the column count `02 01`: count and "metadata
 *   follows") and 3 failing queries;
 * - Perl DBI with DBD::MariaDB and `mariadb_server_prepare=1` (the binary protocol), one
 *   connection: the 4 `SET ...` queries DBD::MariaDB sends on connect, `COM_STMT_PREPARE` of a
 *   SELECT, 10 `COM_STMT_EXECUTE`s returning rows, `COM_STMT_CLOSE`, a prepared INSERT executed
 *   twice (OK, then duplicate key: ERR), its `COM_STMT_RESET` and `COM_STMT_CLOSE`.
 *
 * `container_mysql_queries_total` on the client's container (destination labels `ip:3306`) and
 * `container_mysql_inbound_queries_total` on the server's: `ok` 10 + 4 + 1 + 10 + 1 + 1 = 27,
 * `failed` 3 + 1 = 4, exactly (closes and resets not counted).
 *
 * Needs root, mariadb-server, mariadb-client, libdbd-mariadb-perl, iproute2, nsenter and the built
 * libosprey.
 */
import { createNetnsPair } from "../helpers/netns.ts";
import { familyLines, hasFile, killCgroup, waitExact } from "./_helpers.ts";
import {
  agentSteps,
  CgroupContainer,
  INTERVAL_MS,
  netLabIgnoreReason,
  type Scrape,
  scrapeParsed,
  sleep,
  waitFor,
  withNetAgent,
} from "../net/_lab.ts";

function hasPerlModule(name: string): boolean {
  try {
    return new Deno.Command("perl", { args: [`-M${name}`, "-e1"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const ignoreReason = netLabIgnoreReason() ||
  (!hasFile("/usr/sbin/mariadbd")
    ? "mariadb-server missing (apt-get install mariadb-server)"
    : "") ||
  (!hasFile("/usr/bin/mariadb-install-db") ? "mariadb-install-db missing" : "") ||
  (!hasFile("/usr/bin/mariadb") ? "mariadb-client missing" : "") ||
  (!hasPerlModule("DBD::MariaDB")
    ? "DBD::MariaDB missing (apt-get install libdbd-mariadb-perl)"
    : "");
if (ignoreReason) console.warn(`tests/l7/mysql_test.ts ignored: ${ignoreReason}`);

/**
 * Runs `sql` with the mariadb CLI in `c`, one connection, the statements on its stdin (`--force`
 * goes on past errors only there: with `-e` the CLI stops at the first error).
 */
async function mariadb(c: CgroupContainer, host: string, sql: string): Promise<number> {
  const p = c.spawn(
    [
      "sh",
      "-c",
      'printf "%s\\n" "$1" | mariadb --no-defaults -h "$0" -P 3306 -u root --force >/dev/null 2>&1',
      host,
      sql,
    ],
    "mariadb",
  );
  const status = await p.child.status;
  return status.code;
}

/** The prepared part (DBD::MariaDB, server-side prepares); dies on any unexpected answer. */
const PERL = `
use strict; use DBI;
my ($host) = @ARGV;
my $d = DBI->connect("DBI:MariaDB:host=$host;port=3306;mariadb_server_prepare=1", "root", "",
  {RaiseError => 0, PrintError => 0}) or die DBI->errstr;
my $s = $d->prepare("SELECT id, v FROM d.t WHERE id >= ?") or die $d->errstr;
for my $i (1..10) {
  $s->execute($i % 3) or die $s->errstr;
  my $rows = $s->fetchall_arrayref;
  die "no rows" unless @$rows;
}
$s->finish; undef $s;
my $ins = $d->prepare("INSERT INTO d.t (id, v) VALUES (?, ?)") or die $d->errstr;
$ins->execute(100, "x") or die $ins->errstr;
$ins->execute(100, "y") and die "duplicate key accepted";
undef $ins;
$d->disconnect;
print "done\\n";
`;

Deno.test({
  name: "l7: MariaDB with the mariadb CLI and DBD::MariaDB prepares, failures, exact counts",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7m");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-mariadb-" });
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      const init = await new Deno.Command("mariadb-install-db", {
        args: [
          "--no-defaults",
          `--datadir=${dir}/data`,
          "--user=root",
          "--auth-root-authentication-method=normal",
          "--skip-test-db",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!init.success) throw new Error(new TextDecoder().decode(init.stderr));
      await Deno.writeTextFile(`${dir}/prepared.pl`, PERL);
      const server = await CgroupContainer.create("mariadb", pair.b.name);
      const client = await CgroupContainer.create("mariadb-client", pair.a.name);
      made.push(server, client);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        server.spawn([
          "mariadbd",
          "--no-defaults",
          `--datadir=${dir}/data`,
          `--socket=${dir}/sock`,
          `--pid-file=${dir}/pid`,
          `--log-error=${dir}/err.log`,
          `--bind-address=${ip}`,
          "--port=3306",
          "--skip-grant-tables",
          "--skip-log-bin",
          "--innodb-buffer-pool-size=16M",
          "--user=root",
        ], "mariadbd");
        await waitFor("mariadbd answering", async () => {
          return (await mariadb(client, ip, "SELECT 41+1")) === 0 ? true : undefined;
        }, { timeoutMs: 30_000, everyMs: 300 });
        const setup = await mariadb(
          client,
          ip,
          "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10)); " +
            "INSERT INTO d.t VALUES (1,'a'),(2,'b'),(3,'c');",
        );
        if (setup !== 0) throw new Error(`the table could not be made (exit ${setup})`);
        const dst = { destination: `${ip}:3306`, actual_destination: `${ip}:3306` };
        const out = (status: string) => ({ container_id: client.id, ...dst, status });
        const inn = (status: string) => ({ container_id: server.id, status });
        // the baseline: the ping that answered and the 3 setup statements, seen on both sides
        // (a slow round must not leave them to land in the counted part)
        let seen: Scrape | undefined;
        await waitFor("the setup's 4 queries counted on both sides", async () => {
          seen = await scrapeParsed(agent.url);
          return (seen.value("container_mysql_queries_total", out("ok")) ?? 0) >= 4 &&
              (seen.value("container_mysql_inbound_queries_total", inn("ok")) ?? 0) >= 4
            ? true
            : undefined;
        }, {
          timeoutMs: 20_000,
          describe: () =>
            seen
              ? familyLines(seen, [client.id, server.id], "container_mysql", "osprey_l7_requests")
              : "(no scrape)",
        });
        await sleep(4 * INTERVAL_MS);
        const base = await scrapeParsed(agent.url);
        const b = (m: string, l: Record<string, string>) => base.value(m, l) ?? 0;

        const expect = async (okN: number, failedN: number) => {
          const want: [string, Record<string, string>, number][] = [
            ["container_mysql_queries_total", out("ok"), okN],
            ["container_mysql_queries_total", out("failed"), failedN],
            ["container_mysql_inbound_queries_total", inn("ok"), okN],
            ["container_mysql_inbound_queries_total", inn("failed"), failedN],
          ].map(([m, l, v]) =>
            [m, l, (v as number) + b(m as string, l as Record<string, string>)] as [
              string,
              Record<string, string>,
              number,
            ]
          );
          await waitExact(
            agent.url,
            want,
            (s) => familyLines(s, [client.id, server.id], "container_mysql", "osprey_l7_requests"),
          );
        };

        await step("text: 10 SELECTs with rows, 3 failing: ok 10, failed 3", async () => {
          const sql = [
            ...Array.from({ length: 10 }, () => "SELECT id, v FROM d.t"),
            "SELECT * FROM d.no_such_table",
            "SELEKT 1",
            "SELECT no_such_column FROM d.t",
          ].join(";\n") + ";";
          const code = await mariadb(client, ip, sql);
          if (code !== 0) throw new Error(`mariadb exited ${code}`);
          await expect(10, 3);
        });

        await step(
          "binary: 4 settings, 2 prepares, 11 executes ok, 1 failing, closes not counted: ok +17, failed +1",
          async () => {
            const p = client.spawn(["perl", `${dir}/prepared.pl`, ip], "perl DBD::MariaDB");
            await p.wait(0);
            await expect(10 + 4 + 1 + 10 + 1 + 1, 3 + 1);
          },
        );
      });
    } finally {
      for (const c of made) {
        await killCgroup(c);
        await c.remove();
      }
      await pair.remove();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
