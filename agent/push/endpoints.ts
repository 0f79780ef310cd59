/**
 * The push endpoints from the flags, derived as coroot-node-agent does (reference §9.1, read
 * against its `flags/flags.go` and `flags/flags_linux.go`): `--collector-endpoint` gives each
 * signal `<base>/v1/<signal>` unless that signal's own flag is set; a metrics endpoint (given
 * or derived) forces the listen address to `127.0.0.1:10300`.
 *
 * @module
 */
import type { FlagValues } from "../flags.ts";

/** Where the reference moves the listen address when it pushes metrics. */
export const PUSH_LISTEN = "127.0.0.1:10300";

/** The per-signal URLs; undefined when that signal is not pushed. */
export interface PushEndpoints {
  readonly metrics?: URL;
  readonly logs?: URL;
  readonly traces?: URL;
  readonly profiles?: URL;
}

/**
 * `base` with `/v1/<signal>` appended to its path, as Go's `url.JoinPath` does: one slash
 * between the parts, `.`/`..` segments resolved, query kept.
 */
export function joinSignalPath(base: URL, signal: string): URL {
  const u = new URL(base.href);
  const segs: string[] = [];
  for (const s of `${u.pathname}/v1/${signal}`.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") segs.pop();
    else segs.push(s);
  }
  u.pathname = "/" + segs.join("/");
  return u;
}

function urlFlag(flags: FlagValues, name: string): URL | undefined {
  const v = String(flags[name] ?? "");
  return v === "" ? undefined : new URL(v); // checked by the flag parser (checkHttpUrl)
}

/** The endpoints the flags name (each signal's flag wins over `--collector-endpoint`). */
export function pushEndpoints(flags: FlagValues): PushEndpoints {
  const base = urlFlag(flags, "collector-endpoint");
  const pick = (flag: string, signal: string) =>
    urlFlag(flags, flag) ?? (base ? joinSignalPath(base, signal) : undefined);
  return {
    metrics: pick("metrics-endpoint", "metrics"),
    logs: pick("logs-endpoint", "logs"),
    traces: pick("traces-endpoint", "traces"),
    profiles: pick("profiles-endpoint", "profiles"),
  };
}

/**
 * The listen address the agent uses: {@linkcode PUSH_LISTEN} when metrics are pushed (the
 * reference forces it then, whatever `--listen` says), else `--listen`. `pushing` says whether
 * it was forced, `forced` whether that changed the flag's value.
 */
export function effectiveListen(
  flags: FlagValues,
): { listen: string; pushing: boolean; forced: boolean } {
  const given = String(flags.listen);
  if (pushEndpoints(flags).metrics === undefined) {
    return { listen: given, pushing: false, forced: false };
  }
  return { listen: PUSH_LISTEN, pushing: true, forced: given !== PUSH_LISTEN };
}

/** Deno's net descriptor host (`host:port`) of an endpoint URL. */
export function netHost(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/**
 * The URL as logs and the start-up table show it: a user name and password in it (the
 * `user:pass@` of RFC 3986 §3.2.1) are replaced by `***`, so credentials never reach a log.
 */
export function printableUrl(url: URL): string {
  if (url.username === "" && url.password === "") return url.href;
  const u = new URL(url.href);
  u.username = "***";
  u.password = "";
  return u.href;
}
