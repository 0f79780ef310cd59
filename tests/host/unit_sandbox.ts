/**
 * Runs a command the way systemd would run a service of tools/host/osprey.service, on a machine
 * whose PID 1 is not systemd: the unit's settings are read from the file and reproduced with
 * `unshare --mount` (a private mount namespace), `mount` and `setpriv`.
 *
 * Reproduced: `CapabilityBoundingSet` (setpriv --bounding-set; inheritable and ambient sets
 * emptied), `NoNewPrivileges` (setpriv --no-new-privs), `ProtectSystem=strict`,
 * `ReadOnlyPaths=/` and `ProtectHome=read-only` (every mount but /proc, /sys, /dev remounted
 * read-only), `ReadWritePaths`, `StateDirectory` and `RuntimeDirectory` (fresh tmpfs mounts, so
 * the host's own directories are not touched; mounts the host has below them are detached in the
 * namespace, as systemd would find none in a fresh runtime directory), `PrivateTmp` (tmpfs on /tmp and /var/tmp),
 * `ProtectKernelTunables` (/sys and /proc/sys read-only), `UMask`, `Environment`,
 * `EnvironmentFile` (a clean environment otherwise). Not reproduced (systemd makes them from
 * seccomp filters and namespaces this wrapper does not build): `RestrictNamespaces`,
 * `RestrictAddressFamilies`, `RestrictSUIDSGID`, `LockPersonality`, `RestrictRealtime`,
 * `ProtectClock`, `ProtectHostname`, `ProtectKernelModules` (beyond the bounding set, which
 * lacks CAP_SYS_MODULE).
 *
 * @module
 */

/** The `[Service]` settings of a unit file, each key with every value it was given. */
export type UnitSettings = Map<string, string[]>;

/** A unit file has a setting this wrapper needs in a form it does not understand. */
export class UnitSyntaxError extends Error {
  override name = "UnitSyntaxError";
}

/** Parse the `[Service]` section of a unit file (no line continuations, no specifiers). */
export function parseService(text: string): UnitSettings {
  const out: UnitSettings = new Map();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      section = line;
      continue;
    }
    if (section !== "[Service]") continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new UnitSyntaxError(`not a setting: ${line}`);
    const key = line.slice(0, eq).trim();
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

function one(u: UnitSettings, key: string): string | undefined {
  const v = u.get(key);
  return v?.[v.length - 1];
}

function words(u: UnitSettings, key: string): string[] {
  return (u.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
}

function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Options of {@linkcode unitCommand}. */
export interface UnitCommandOptions {
  /** Prefix for absolute paths of ExecStart and EnvironmentFile (a staged install). */
  root?: string;
  /** Run this instead of ExecStart (to probe the limits). */
  command?: string[];
}

/**
 * The argv that runs the unit's ExecStart (or `command`) under the unit's limits.
 *
 * @throws UnitSyntaxError on a setting the wrapper cannot reproduce faithfully
 */
export function unitCommand(u: UnitSettings, o: UnitCommandOptions = {}): string[] {
  const root = o.root ?? "";
  if (one(u, "ProtectSystem") !== "strict") {
    throw new UnitSyntaxError("only ProtectSystem=strict is reproduced");
  }
  const exec = o.command ?? (one(u, "ExecStart") ?? "").split(/\s+/).filter(Boolean);
  if (!o.command && exec.length) exec[0] = root + exec[0];
  const rw = [
    ...words(u, "ReadWritePaths"),
    ...words(u, "StateDirectory").map((d) => `/var/lib/${d}`),
    ...words(u, "RuntimeDirectory").map((d) => `/run/${d}`),
  ];
  const caps = words(u, "CapabilityBoundingSet").map((c) => c.replace(/^CAP_/, "").toLowerCase());
  const env: string[] = [];
  for (const e of u.get("Environment") ?? []) env.push(e);
  const script: string[] = ["set -eu"];
  for (const d of [...new Set(rw)]) {
    // The host's own mounts below it (an earlier host_view.sh) would still be listed in
    // mountinfo under the fresh tmpfs: detach them in this namespace first.
    script.push(
      `mkdir -p ${q(d)}`,
      `awk '{print $5}' /proc/self/mountinfo | grep -E ${q(`^${d}(/|$)`)} | sort -r | ` +
        `while read -r m; do umount -l "$m"; done`,
      `mount -t tmpfs -o mode=0755 tmpfs ${q(d)}`,
    );
  }
  const skip = [...new Set(rw)].map((d) => `${q(d)}|${q(d)}/*`).join("|");
  script.push(
    // ProtectSystem=strict, ReadOnlyPaths=/, ProtectHome=read-only: everything else read-only
    `awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do`,
    `  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*${
      skip ? `|${skip}` : ""
    }) continue ;; esac`,
    `  mount -o remount,bind,ro "$m" || { echo "unit-sandbox: cannot make $m read-only" >&2; exit 1; }`,
    `done`,
  );
  if (one(u, "ProtectKernelTunables") === "yes") {
    script.push(
      "mount -o remount,bind,ro /sys",
      "mount --bind /proc/sys /proc/sys",
      "mount -o remount,bind,ro /proc/sys",
    );
  }
  if (one(u, "PrivateTmp") === "yes") {
    script.push(
      "mount -t tmpfs -o mode=1777 tmpfs /tmp",
      "mount -t tmpfs -o mode=1777 tmpfs /var/tmp",
    );
  }
  const umask = one(u, "UMask");
  if (umask) script.push(`umask ${umask}`);
  // EnvironmentFile (optional with "-"): read after Environment=, so its values win.
  const envFiles = (u.get("EnvironmentFile") ?? []).map((f) => f.replace(/^-/, ""));
  const envArgs = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...env];
  const setpriv = [
    "setpriv",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    `--bounding-set=-all${caps.map((c) => `,+${c}`).join("")}`,
  ];
  if (one(u, "NoNewPrivileges") === "yes") setpriv.push("--no-new-privs");
  script.push(
    `set --`,
    ...envFiles.map((f) =>
      `if [ -f ${
        q(root + f)
      } ]; then while IFS= read -r l; do case "$l" in ''|'#'*) ;; *) set -- "$@" "$l" ;; esac; done < ${
        q(root + f)
      }; fi`
    ),
    `exec ${setpriv.map(q).join(" ")} -- env -i ${envArgs.map(q).join(" ")} "$@" ${
      exec.map(q).join(" ")
    }`,
  );
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script.join("\n")];
}
