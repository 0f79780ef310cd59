/**
 * Postgres end to end on the real kernel: Debian's PostgreSQL 15 server (initdb into a temporary
 * directory, run as the `postgres` user) in a "container" in network namespace b, Debian's psql in
 * another in namespace a, the agent as a child process with `-P=agent`.
 *
 * One psql connection runs 10 simple queries, 4 `EXECUTE`s of a statement made by `PREPARE`
 * (psql sends both as simple-protocol queries: `PREPARE` counts too), and 3 failing queries:
 * `container_postgres_queries_total` `ok` 15, `failed` 3 on the client, the same on the server's
 * inbound family. (The extended protocol, Parse/Bind/Execute/Sync and statement close, is covered by
 * the protocol code's unit tests: psql 15 cannot send it.)
 *
 * Needs root, postgresql (15), psql, runuser, iproute2, nsenter and the built libosprey.
 */
import { createNetnsPair } from "../helpers/netns.ts";
import { familyLines, hasFile, killCgroup, waitExact } from "./_helpers.ts";
import {
  agentSteps,
  CgroupContainer,
  INTERVAL_MS,
  netLabIgnoreReason,
  scrapeParsed,
  sleep,
  waitFor,
  withNetAgent,
} from "../net/_lab.ts";

const PG_BIN = "/usr/lib/postgresql/15/bin";

const ignoreReason = netLabIgnoreReason() ||
  (!hasFile(`${PG_BIN}/postgres`) ? "postgresql 15 missing (apt-get install postgresql)" : "") ||
  (!hasFile("/usr/bin/psql") ? "psql missing" : "") ||
  (!hasFile("/usr/sbin/runuser") ? "runuser missing" : "");
if (ignoreReason) console.warn(`tests/l7/postgres_test.ts ignored: ${ignoreReason}`);

/** Runs psql in `c` with one `-c` per statement (one connection); resolves when it exits. */
async function psql(c: CgroupContainer, host: string, statements: string[]): Promise<void> {
  const args = statements.flatMap((s) => ["-c", s]);
  const p = c.spawn(
    [
      "sh",
      "-c",
      'exec psql -X -q -h "$0" -U postgres -d postgres "$@" >/dev/null 2>&1',
      host,
      ...args,
    ],
    "psql",
  );
  // psql exits 1 when its last statement failed, which is the point here
  await p.child.status;
}

Deno.test({
  name: "l7: PostgreSQL with psql, simple and prepared queries and failures, exact counts",
  ignore: ignoreReason !== "",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const pair = await createNetnsPair("l7p");
    const dir = await Deno.makeTempDir({ prefix: "osprey-l7-pg-" });
    const made: CgroupContainer[] = [];
    try {
      const ip = pair.b.v4;
      await Deno.chmod(dir, 0o777);
      const init = await new Deno.Command("runuser", {
        args: ["-u", "postgres", "--", `${PG_BIN}/initdb`, "-D", `${dir}/data`, "--auth=trust"],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!init.success) throw new Error(new TextDecoder().decode(init.stderr));
      // the client's namespace may connect without a password (trust, as initdb set for local)
      await Deno.writeTextFile(`${dir}/data/pg_hba.conf`, "host all all 10.201.0.0/24 trust\n", {
        append: true,
      });
      const server = await CgroupContainer.create("postgres", pair.b.name);
      const client = await CgroupContainer.create("psql", pair.a.name);
      made.push(server, client);
      await withNetAgent({}, async (agent) => {
        const step = agentSteps(t, agent);
        server.spawn([
          "sh",
          "-c",
          `exec runuser -u postgres -- ${PG_BIN}/postgres -D ${dir}/data -h ${ip} -p 5432 ` +
          `-k ${dir} >/dev/null 2>&1`,
        ], "postgres");
        await waitFor("postgres answering", async () => {
          const p = client.spawn(
            ["sh", "-c", `psql -X -h ${ip} -U postgres -d postgres -Atc 'select 41+1'`],
            "psql ping",
          );
          return (await p.wait(undefined)) === 0 ? true : undefined;
        }, { timeoutMs: 30_000, everyMs: 300 });
        await sleep(4 * INTERVAL_MS);
        const base = await scrapeParsed(agent.url);
        const dst = { destination: `${ip}:5432`, actual_destination: `${ip}:5432` };
        const out = (status: string) => ({ container_id: client.id, ...dst, status });
        const inn = (status: string) => ({ container_id: server.id, status });
        const b = (m: string, l: Record<string, string>) => base.value(m, l) ?? 0;

        await step("10 simple, PREPARE + 4 EXECUTE, 3 failing: ok 15, failed 3", async () => {
          const statements = [
            ...Array.from({ length: 10 }, (_, i) => `SELECT ${i}`),
            "PREPARE p(int) AS SELECT $1 + 1",
            ...Array.from({ length: 4 }, (_, i) => `EXECUTE p(${i})`),
            "SELECT * FROM no_such_table",
            "SELEKT 1",
            "SELECT 1/0",
          ];
          await psql(client, ip, statements);
          const want: [string, Record<string, string>, number][] = [
            ["container_postgres_queries_total", out("ok"), 15],
            ["container_postgres_queries_total", out("failed"), 3],
            ["container_postgres_inbound_queries_total", inn("ok"), 15],
            ["container_postgres_inbound_queries_total", inn("failed"), 3],
          ].map((
            [m, l, v],
          ) => [m, l, (v as number) + b(m as string, l as Record<string, string>)]) as [
            string,
            Record<string, string>,
            number,
          ][];
          await waitExact(
            agent.url,
            want,
            (s) =>
              familyLines(s, [client.id, server.id], "container_postgres", "osprey_l7_requests"),
          );
        });
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
