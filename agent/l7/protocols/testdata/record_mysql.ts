/**
 * Records the bytes of real MariaDB conversations for `mysql_test.ts`: Debian's `mariadbd` on a
 * private datadir, socket and loopback port (`--skip-grant-tables`), a relay in front of it that
 * writes each chunk it reads, per direction, to `mysql_mariadb.json`, and two clients through the
 * relay, one connection each:
 *
 * - `text` (the `mariadb` CLI, text protocol): `CREATE TABLE` and `INSERT` (OK answers), a SELECT
 *   of one row, of 3 rows, of 300 columns (a column count of 3 bytes: `0xfc` + 2), a failing
 *   query (ERR);
 * - `prepared` (Perl DBI with DBD::MariaDB, `mariadb_server_prepare=1`, the binary protocol):
 *   `COM_STMT_PREPARE` of `SELECT ? + 1` executed 3 times (binary result sets), of an `INSERT`
 *   executed twice (OK, then ERR: duplicate key), a prepare that fails (ERR), and the
 *   `COM_STMT_CLOSE`s of the statements.
 *
 * Usage (root, mariadb-server, mariadb-client, libdbd-mariadb-perl):
 * `deno run -A agent/l7/protocols/testdata/record_mysql.ts`
 *
 * @module
 */

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

const dir = await Deno.makeTempDir({ prefix: "osprey-mysql-record-" });
const port = 20_000 + Math.floor(Math.random() * 20_000);
await run("mariadb-install-db", [
  "--no-defaults",
  `--datadir=${dir}/data`,
  "--user=root",
  "--auth-root-authentication-method=normal",
  "--skip-test-db",
]);
const server = new Deno.Command("mariadbd", {
  args: [
    "--no-defaults",
    `--datadir=${dir}/data`,
    `--socket=${dir}/sock`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    "--skip-grant-tables",
    "--user=root",
    `--pid-file=${dir}/pid`,
    `--log-error=${dir}/err.log`,
    "--skip-log-bin",
    "--innodb-buffer-pool-size=16M",
  ],
  stdout: "null",
  stderr: "null",
}).spawn();

try {
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relayPort = (relay.addr as Deno.NetAddr).port;

  /** Relays one connection, recording each chunk read. */
  const session = async (client: () => Promise<void>) => {
    const chunks: { side: "client" | "server"; hex: string }[] = [];
    const accepted = (async () => {
      const conn = await relay.accept();
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      const pump = async (from: Deno.Conn, to: Deno.Conn, side: "client" | "server") => {
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await from.read(buf).catch(() => null);
          if (n === null) break;
          chunks.push({ side, hex: hex(buf.subarray(0, n)) });
          await to.write(buf.slice(0, n)).catch(() => {});
        }
        try {
          to.closeWrite();
        } catch { /* closed */ }
      };
      await Promise.all([pump(conn, upstream, "client"), pump(upstream, conn, "server")]);
      conn.close();
      upstream.close();
    })();
    await client();
    await accepted;
    return chunks;
  };

  const cols = Array.from({ length: 300 }, (_, i) => `${i}`).join(",");
  const text = await session(() =>
    run("sh", [
      "-c",
      `mariadb --no-defaults -h 127.0.0.1 -P ${relayPort} -u root --force -e "$0" >/dev/null 2>&1 || true`,
      [
        "CREATE DATABASE d",
        "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(10))",
        "INSERT INTO d.t VALUES (1,'a'),(2,'b'),(3,'c')",
        "SELECT 1",
        "SELECT id, v FROM d.t",
        `SELECT ${cols}`,
        "SELECT * FROM d.no_such_table",
      ].join(";\n") + ";",
    ])
  );
  const perl = [
    "use DBI;",
    "my ($port) = @ARGV;",
    'my $d = DBI->connect("DBI:MariaDB:host=127.0.0.1;port=$port;mariadb_server_prepare=1",',
    '  "root", "", {RaiseError => 0, PrintError => 0}) or die DBI->errstr;',
    'my $s = $d->prepare("SELECT ? + 1") or die $d->errstr;',
    "for my $i (1..3) { $s->execute($i) or die $s->errstr; $s->fetchall_arrayref; }",
    "$s->finish; undef $s;",
    'my $ins = $d->prepare("INSERT INTO d.t (id, v) VALUES (?, ?)") or die $d->errstr;',
    '$ins->execute(10, "x") or die $ins->errstr;',
    '$ins->execute(10, "y") and die "duplicate key accepted";',
    "undef $ins;",
    '$d->prepare("SELEKT ?") and die "bad statement prepared";',
    "$d->disconnect;",
  ].join("\n");
  const prepared = await session(() => run("perl", ["-e", perl, String(relayPort)]));
  relay.close();

  const out = new URL("./mysql_mariadb.json", import.meta.url);
  await Deno.writeTextFile(
    out,
    JSON.stringify({ server: "MariaDB 10.11 (Debian 12)", text, prepared }, null, 1) + "\n",
  );
  console.log(`wrote ${out.pathname}: ${text.length} + ${prepared.length} chunks`);
} finally {
  server.kill("SIGTERM");
  await server.status;
  await Deno.remove(dir, { recursive: true });
}
