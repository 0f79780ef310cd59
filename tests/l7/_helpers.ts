/**
 * Helpers shared by the L7 end-to-end tests: tool checks, a real nginx's config with an ok,
 * a 404, a 500, an excluded and a slow (proxied) location, curl and shell runs inside a test
 * container, and killing what a container left running.
 *
 * @module
 */
import type { CgroupContainer } from "../net/_lab.ts";
import { INTERVAL_MS, type Scrape, scrapeParsed, sleep, waitFor } from "../net/_lab.ts";

/** Whether `path` is a regular file (a server binary at its Debian path). */
export function hasFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The exposition lines worth showing when an L7 wait fails: the containers' series of the
 * families starting with `family` (no histogram buckets), and the lines starting with `own`.
 */
export function familyLines(s: Scrape, ids: string[], family: string, own: string): string {
  return s.text.split("\n").filter((l) =>
    (ids.some((id) => l.includes(`container_id="${id}"`)) && l.startsWith(family) &&
      !l.includes("_bucket")) || l.startsWith(own)
  ).join("\n");
}

/** Whether `cmd` is on PATH. */
export function has(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * A foreground nginx config whose files (pid, error log, temp dirs) are under `dir`, with one
 * `server { ... }` block of `server` and `http` settings `http` (both nginx text).
 */
export function nginxServerConfig(dir: string, server: string, http = ""): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
${http}
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
${server}
  }
}
`;
}

/** The port nginx listens on in {@linkcode nginxConfig}. */
export const NGINX_PORT = 8080;
/** The port of {@linkcode SLOW_SERVER}, nginx's `/slow` upstream. */
export const UPSTREAM_PORT = 8090;
/** How long {@linkcode SLOW_SERVER} sleeps before answering, ms. */
export const SLOW_MS = 200;

/**
 * An nginx config (foreground, files under `dir`) listening on `addr`:{@linkcode NGINX_PORT}:
 * `/ok` 200, `/missing` 404, `/fail` 500, `/excluded` 200, `/slow` proxied to
 * {@linkcode SLOW_SERVER}.
 */
export function nginxConfig(dir: string, addr: string): string {
  return nginxServerConfig(
    dir,
    `
listen ${addr}:${NGINX_PORT};
location = /ok { return 200 "ok\\n"; }
location = /missing { return 404; }
location = /fail { return 500; }
location = /excluded { return 200 "no\\n"; }
location = /slow { proxy_pass http://127.0.0.1:${UPSTREAM_PORT}; }
`,
  );
}

/** A python3 HTTP server on 127.0.0.1:{@linkcode UPSTREAM_PORT} that sleeps before answering. */
export const SLOW_SERVER = `
import http.server, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(${SLOW_MS / 1000})
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"slow\\n")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", ${UPSTREAM_PORT}), H).serve_forever()
`;

/**
 * Runs curl in `c` on every URL (one process: keep-alive), `env` added to its environment;
 * returns the status codes.
 */
export async function curl(
  c: CgroupContainer,
  urls: string[],
  env?: Record<string, string>,
): Promise<string[]> {
  const p = c.spawn(
    ["curl", "-s", "-o", "/dev/null", "-w", '{"code":"%{http_code}"}\\n', ...urls],
    "curl",
    env,
  );
  await p.wait();
  const codes: string[] = [];
  for (let i = 0; i < urls.length; i++) codes.push((await p.line<{ code: string }>()).code);
  return codes;
}

/** Runs a bash script in the container to its end; returns its stdout. */
export async function sh(c: CgroupContainer, script: string): Promise<string> {
  const p = c.spawn(
    ["bash", "-c", `{ ${script}; echo; } | sed 's/.*/{"out":"&"}/; s/\\r//g'`],
    "client",
  );
  await p.wait();
  const out: string[] = [];
  for (;;) {
    try {
      out.push((await p.line<{ out: string }>(200)).out);
    } catch {
      return out.join("\n");
    }
  }
}

/** Kills every process left in the container's cgroup (nginx's workers), by pid. */
export async function killCgroup(c: CgroupContainer): Promise<void> {
  for (const h of c.cgroup.hierarchies) {
    let text = "";
    try {
      text = await Deno.readTextFile(`${h.base}/${c.cgroup.format}/cgroup.procs`);
    } catch {
      continue;
    }
    for (const pid of text.split("\n").filter((x) => x !== "")) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
  }
}

/** Series and the values they must reach: `[family, labels, value]`. */
export type Wanted = [string, Record<string, string>, number][];

/**
 * Waits (20 s at most) until the agent at `url` serves every wanted value exactly, then checks
 * they still hold two collection rounds later, so nothing is counted twice late. `describe`
 * shows what was served when either fails. Returns the last scrape.
 */
export async function waitExact(
  url: string,
  want: Wanted,
  describe: (s: Scrape) => string,
): Promise<Scrape> {
  let last: Scrape | undefined;
  const ok = async () => {
    last = await scrapeParsed(url);
    return want.every(([m, l, v]) => last!.value(m, l) === v);
  };
  await waitFor(JSON.stringify(want), async () => (await ok()) ? true : undefined, {
    timeoutMs: 20_000,
    describe: () => last ? describe(last) : "(no scrape)",
  });
  await sleep(2 * INTERVAL_MS + 100);
  if (!(await ok())) throw new Error(`changed later:\n${describe(last!)}`);
  return last!;
}
