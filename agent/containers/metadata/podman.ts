/**
 * Podman (4.x, rootful and optionally rootless) without its API and without its BoltDB.
 *
 * Where Podman 4.3 leaves what Osprey needs, all plain files:
 * - name and image: c/storage `<graphroot>/overlay-containers/containers.json`, the entry's
 *   `names` and its `metadata` (a JSON string with `name`, `image-name`, `image-id`); the image
 *   id resolves through `<graphroot>/overlay-images/images.json` `names`.
 * - env, mounts, annotations: the OCI spec `<graphroot>/overlay-containers/<id>/userdata/config.json`.
 * - log driver and path: the running conmon's command line (`-l k8s-file:<path>`, `-l journald`,
 *   `-l none`), found through `<runroot>/overlay-containers/<id>/userdata/conmon.pid`; without
 *   conmon, `userdata/ctr.log` (the k8s-file default).
 * - labels: NOT in config.json. Only the BoltDB (`libpod/bolt_state.db`, not read) and the events
 *   log keep them: with the "file" events backend every container event in
 *   `<tmpdir>/events/events.log` (rootful tmpdir `/run/libpod`) carries the labels as
 *   `Attributes`. With the journald backend labels are not available from files.
 *
 * @module
 */

import { buildMetadata, isSafeSegment, type LookupContext } from "./_fs.ts";
import { isObject, parseJson, str, strList, strMap } from "./_json.ts";
import { storageContainerDirs } from "./crio.ts";
import { parseOciConfig } from "./oci.ts";
import {
  type ContainerMetadata,
  type LogFormat,
  MetadataError,
  type MetadataOptions,
  MetadataParseError,
} from "./types.ts";

/** Rootful Podman's c/storage graph root, as the host names it. */
export const PODMAN_GRAPH_ROOT = "/var/lib/containers/storage";
/** Rootful Podman's c/storage run root. */
export const PODMAN_RUN_ROOT = "/run/containers/storage";
/** Rootful Podman's libpod tmpdir (events log, exits). */
export const PODMAN_TMPDIR = "/run/libpod";
/** How much of the end of the events log is read. */
export const EVENTS_TAIL_BYTES = 4 * 1024 * 1024;

/** The `metadata` string of a c/storage container entry, as libpod and CRI-O fill it. */
export interface StorageContainerMetadata {
  name?: string;
  imageName?: string;
  imageId?: string;
  podName?: string;
  podId?: string;
  createdAt?: number;
}

/** One entry of c/storage's `containers.json`. */
export interface StorageContainer {
  id: string;
  names: string[];
  /** The image id. */
  image?: string;
  layer?: string;
  metadata: StorageContainerMetadata;
  created?: string;
}

/** One entry of c/storage's `images.json`. */
export interface StorageImage {
  id: string;
  names: string[];
  digest?: string;
}

function parseStorageMetadata(v: unknown): StorageContainerMetadata {
  if (typeof v !== "string" || v.length === 0) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(v);
  } catch {
    return {};
  }
  if (!isObject(doc)) return {};
  const out: StorageContainerMetadata = {};
  const fields: [keyof StorageContainerMetadata, string][] = [
    ["name", "name"],
    ["imageName", "image-name"],
    ["imageId", "image-id"],
    ["podName", "pod-name"],
    ["podId", "pod-id"],
  ];
  for (const [field, key] of fields) {
    const value = str(doc[key]);
    if (value !== undefined) (out as Record<string, string>)[field] = value;
  }
  const created = doc["created-at"];
  if (typeof created === "number" && Number.isFinite(created)) out.createdAt = created;
  return out;
}

/**
 * Parses c/storage's `containers.json` (an array of containers). Entries without an id are
 * skipped; an unreadable `metadata` string leaves the entry's metadata empty. Throws
 * {@linkcode MetadataParseError} when the top level is not an array.
 */
export function parseStorageContainersJson(text: string): StorageContainer[] {
  const doc = parseJson(text, "c/storage containers.json");
  if (!Array.isArray(doc)) {
    throw new MetadataParseError("c/storage containers.json", "top level is not an array");
  }
  const out: StorageContainer[] = [];
  for (const item of doc) {
    if (!isObject(item)) continue;
    const id = str(item.id);
    if (id === undefined) continue;
    const entry: StorageContainer = {
      id,
      names: strList(item.names),
      metadata: parseStorageMetadata(item.metadata),
    };
    const image = str(item.image);
    if (image !== undefined) entry.image = image;
    const layer = str(item.layer);
    if (layer !== undefined) entry.layer = layer;
    const created = str(item.created);
    if (created !== undefined) entry.created = created;
    out.push(entry);
  }
  return out;
}

/** Parses c/storage's `images.json` (an array of images). */
export function parseStorageImagesJson(text: string): StorageImage[] {
  const doc = parseJson(text, "c/storage images.json");
  if (!Array.isArray(doc)) {
    throw new MetadataParseError("c/storage images.json", "top level is not an array");
  }
  const out: StorageImage[] = [];
  for (const item of doc) {
    if (!isObject(item)) continue;
    const id = str(item.id);
    if (id === undefined) continue;
    const image: StorageImage = { id, names: strList(item.names) };
    const digest = str(item.digest);
    if (digest !== undefined) image.digest = digest;
    out.push(image);
  }
  return out;
}

/** What conmon's command line says about the container it monitors. */
export interface ConmonArgs {
  /** `-c`/`--cid`. */
  containerId?: string;
  /** `-n`/`--name`. */
  name?: string;
  /** `-b`/`--bundle`. */
  bundle?: string;
  /** The first `-l`/`--log-path` driver: "k8s-file", "journald", "none", "passthrough". */
  logDriver?: string;
  /** The k8s-file path of `-l`. */
  logPath?: string;
  /** `--exit-command-arg` values: podman's own global options for the cleanup process. */
  exitCommand: string[];
  /** `--tmpdir` from the exit command: where the events log lives. */
  tmpdir?: string;
  /** `--events-backend` from the exit command: "file", "journald" or "none". */
  eventsBackend?: string;
  /** `--root` from the exit command: the c/storage graph root. */
  root?: string;
  /** `--runroot` from the exit command. */
  runroot?: string;
}

const SHORT_OPTS: Record<string, keyof ConmonArgs> = {
  "-c": "containerId",
  "--cid": "containerId",
  "-n": "name",
  "--name": "name",
  "-b": "bundle",
  "--bundle": "bundle",
};

function optionAfter(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === name) return args[i + 1];
    if (a.startsWith(name + "=")) return a.slice(name.length + 1);
  }
  return undefined;
}

/**
 * Parses conmon's `/proc/<pid>/cmdline` (NUL-separated). Throws {@linkcode MetadataParseError}
 * when the first argument is not a conmon binary.
 *
 * @example
 * ```ts
 * parseConmonCmdline("/usr/bin/conmon\0-n\0web\0-l\0k8s-file:/x/ctr.log\0").logPath; // "/x/ctr.log"
 * ```
 */
export function parseConmonCmdline(cmdline: string): ConmonArgs {
  const args = cmdline.split("\0");
  if (args.length > 0 && args[args.length - 1] === "") args.pop();
  const argv0 = args[0] ?? "";
  if (!(argv0.slice(argv0.lastIndexOf("/") + 1)).startsWith("conmon")) {
    throw new MetadataParseError(
      "conmon cmdline",
      `argv[0] ${JSON.stringify(argv0.slice(0, 80))} is not conmon`,
    );
  }
  const out: ConmonArgs = { exitCommand: [] };
  for (let i = 1; i < args.length; i++) {
    let a = args[i]!;
    let value: string | undefined;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    if (eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const take = () => value ?? args[++i];
    const field = Object.hasOwn(SHORT_OPTS, a) ? SHORT_OPTS[a] : undefined;
    if (field !== undefined) {
      const v = take();
      if (
        v !== undefined && v.length > 0 &&
        (out as unknown as Record<string, unknown>)[field] === undefined
      ) {
        (out as unknown as Record<string, string>)[field] = v;
      }
    } else if (a === "-l" || a === "--log-path") {
      const v = take();
      if (v === undefined || out.logDriver !== undefined) continue;
      const colon = v.indexOf(":");
      const driver = colon < 0 ? v : v.slice(0, colon);
      const path = colon < 0 ? "" : v.slice(colon + 1);
      if (
        driver === "k8s-file" || driver === "journald" || driver === "none" ||
        driver === "passthrough"
      ) {
        out.logDriver = driver;
        if (path.length > 0) out.logPath = path;
      } else if (v.startsWith("/")) {
        out.logDriver = "k8s-file";
        out.logPath = v;
      }
    } else if (a === "--exit-command-arg") {
      const v = take();
      if (v !== undefined) out.exitCommand.push(v);
    }
  }
  const globals: [keyof ConmonArgs, string][] = [
    ["tmpdir", "--tmpdir"],
    ["eventsBackend", "--events-backend"],
    ["root", "--root"],
    ["runroot", "--runroot"],
  ];
  for (const [field, name] of globals) {
    const v = optionAfter(out.exitCommand, name);
    if (v !== undefined && v.length > 0) (out as unknown as Record<string, string>)[field] = v;
  }
  return out;
}

/** What Podman's events log says about one container. */
export interface PodmanEventInfo {
  name?: string;
  image?: string;
  /** The container's labels (`Attributes` of its latest event). */
  labels?: Record<string, string>;
  /** Number of events seen for the container. */
  events: number;
}

/**
 * Reads Podman's "file" events log (one JSON event per line) for one container. Lines that do
 * not parse are skipped: the log is appended to concurrently and read from an offset, so a torn
 * line is expected. Never throws.
 */
export function parsePodmanEvents(text: string, id: string): PodmanEventInfo {
  return indexPodmanEvents(text, id).get(id) ?? { events: 0 };
}

/**
 * Reads every container's events from Podman's "file" events log at once: id → what its events
 * say (later events win). With `onlyId`, lines that do not mention it are not parsed. Never
 * throws.
 */
export function indexPodmanEvents(text: string, onlyId?: string): Map<string, PodmanEventInfo> {
  const index = new Map<string, PodmanEventInfo>();
  for (const line of text.split("\n")) {
    if (onlyId !== undefined ? !line.includes(onlyId) : !line.includes('"container"')) continue;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    if (!isObject(ev) || typeof ev.ID !== "string" || ev.ID.length === 0) continue;
    if (onlyId !== undefined && ev.ID !== onlyId) continue;
    if (ev.Type !== undefined && ev.Type !== "container") continue;
    let info = index.get(ev.ID);
    if (info === undefined) index.set(ev.ID, info = { events: 0 });
    info.events++;
    const name = str(ev.Name);
    if (name !== undefined) info.name = name;
    const image = str(ev.Image);
    if (image !== undefined) info.image = image;
    if (isObject(ev.Attributes)) info.labels = strMap(ev.Attributes);
  }
  return index;
}

/** Bytes compared at the end of what was read, to notice a log rewritten in place. */
const SEAM_BYTES = 64;

/** Containers an events-log index remembers; the oldest are forgotten first. */
export const EVENTS_INDEX_MAX = 10_000;

/**
 * The events log, indexed once and then followed: each lookup parses only the bytes appended
 * since the last one. Starting 200 containers appends to the log 200 times; re-reading and
 * re-parsing its tail for each lookup made megabytes of garbage per container.
 */
export class EventsFollower {
  #ino: number | null = null;
  #offset = 0;
  #partial = "";
  /** The last bytes read, to tell an append from an in-place rewrite. */
  #seam = new Uint8Array(0);
  readonly index = new Map<string, PodmanEventInfo>();

  async #sameSeam(f: Deno.FsFile): Promise<boolean> {
    const n = this.#seam.length;
    if (n === 0) return true;
    await f.seek(this.#offset - n, Deno.SeekMode.Start);
    const now = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await f.read(now.subarray(got));
      if (r === null) return false;
      got += r;
    }
    return now.every((b, i) => b === this.#seam[i]);
  }

  /** Brings the index up to date with the file; resets it when the file was replaced or cut. */
  async update(file: string): Promise<void> {
    const info = await Deno.stat(file);
    using f = await Deno.open(file, { read: true });
    // Replaced (new inode), cut (shorter), or rewritten in place (the bytes before our offset
    // differ from the ones we read): start over from the tail.
    if (
      info.ino !== this.#ino || info.size < this.#offset ||
      !(await this.#sameSeam(f))
    ) {
      this.#ino = info.ino;
      this.#offset = Math.max(0, info.size - EVENTS_TAIL_BYTES);
      this.#partial = "";
      this.#seam = new Uint8Array(0);
      this.index.clear();
    }
    if (info.size === this.#offset) return;
    await f.seek(this.#offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(Math.min(info.size - this.#offset, EVENTS_TAIL_BYTES));
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    const startsMidLine = this.#offset > 0 && this.index.size === 0 && this.#partial === "";
    this.#offset += got;
    this.#seam = buf.slice(Math.max(0, got - SEAM_BYTES), got);
    let text = this.#partial + new TextDecoder().decode(buf.subarray(0, got));
    if (startsMidLine) text = text.slice(text.indexOf("\n") + 1); // a tail starts mid-line
    const lastNl = text.lastIndexOf("\n");
    this.#partial = text.slice(lastNl + 1); // a line still being written
    for (const [id, ev] of indexPodmanEvents(text.slice(0, lastNl + 1))) {
      const old = this.index.get(id);
      this.index.delete(id); // re-insert: most recently seen last
      this.index.set(
        id,
        old === undefined ? ev : { ...old, ...ev, events: old.events + ev.events },
      );
    }
    for (const id of this.index.keys()) {
      if (this.index.size <= EVENTS_INDEX_MAX) break;
      this.index.delete(id);
    }
  }
}

const EVENTS_FOLLOWERS = new Map<string, EventsFollower>();

/** The followed index of one events log (at most a handful of logs exist per host). */
async function followEvents(
  ctx: LookupContext,
  file: string,
): Promise<Map<string, PodmanEventInfo>> {
  let f = EVENTS_FOLLOWERS.get(file);
  if (f === undefined) EVENTS_FOLLOWERS.set(file, f = new EventsFollower());
  try {
    await f.update(file);
  } catch (e) {
    EVENTS_FOLLOWERS.delete(file);
    if (e instanceof Deno.errors.NotFound) {
      throw ctx.error("not_found", `No events log "${file}"`, file, e);
    }
    throw ctx.error("unreadable", `Cannot read "${file}": ${(e as Error).message}`, file, e);
  }
  ctx.sources.push(file);
  return f.index;
}

/** Forgets followed events logs (tests). */
export function clearEventsFollowers(): void {
  EVENTS_FOLLOWERS.clear();
}

interface StorageHit {
  root: string;
  containersDir: string;
  entry: StorageContainer;
}

interface StorageSearch {
  hit?: StorageHit;
  /** The first containers.json that could not be read or parsed. */
  error?: MetadataError;
}

async function findInStorage(
  ctx: LookupContext,
  roots: readonly string[],
): Promise<StorageSearch> {
  let error: MetadataError | undefined;
  for (const root of roots) {
    const hostRoot = ctx.host(root);
    for (const containersDir of await storageContainerDirs(ctx, hostRoot)) {
      const file = `${containersDir}/containers.json`;
      let list: StorageContainer[] | undefined;
      try {
        list = await ctx.readCached(file, parseStorageContainersJson);
        if (list !== undefined && !list.some((c) => c.id === ctx.id)) {
          list = await ctx.readCached(file, parseStorageContainersJson, { fresh: true });
        }
      } catch (e) {
        if (!(e instanceof MetadataError)) throw e;
        ctx.note(e.message);
        error ??= e;
      }
      const entry = list?.find((c) => c.id === ctx.id);
      if (entry !== undefined) return { hit: { root, containersDir, entry } };
    }
  }
  return error === undefined ? {} : { error };
}

async function readConmon(
  ctx: LookupContext,
  runroot: string,
  containersDirName: string,
): Promise<ConmonArgs | undefined> {
  const pidFile = ctx.host(`${runroot}/${containersDirName}/${ctx.id}/userdata/conmon.pid`);
  const pidText = await ctx.text(pidFile);
  if (pidText === undefined) {
    ctx.note(`no conmon pid file "${pidFile}" (container not running?)`);
    return undefined;
  }
  const pid = pidText.trim();
  if (!/^[1-9][0-9]{0,9}$/.test(pid)) {
    throw ctx.error("malformed", `Cannot parse "${pidFile}": not a pid`, pidFile);
  }
  const cmdlineFile = `${ctx.paths.proc}/${pid}/cmdline`;
  const cmdline = await ctx.text(cmdlineFile);
  if (cmdline === undefined || cmdline.length === 0) {
    ctx.note(`conmon pid ${pid} has exited`);
    return undefined;
  }
  const args = ctx.parse(cmdlineFile, cmdline, parseConmonCmdline);
  if (args.containerId !== ctx.id) {
    ctx.note(`pid ${pid} from "${pidFile}" is conmon for another container`);
    return undefined;
  }
  return args;
}

/** Podman's run root and tmpdir for a graph root. */
export interface PodmanRuntimeDirs {
  runroot: string;
  tmpdir: string;
}

/**
 * The run root and tmpdir that go with a graph root: the rootful pair for the rootful store;
 * for another store, rootless Podman's defaults under `/run/user/<uid>` with the uid of the
 * store's owner. Undefined when the store is owned by root but is not the rootful one.
 */
export async function runtimeDirs(
  ctx: LookupContext,
  graphRoot: string,
): Promise<PodmanRuntimeDirs | undefined> {
  if (graphRoot === PODMAN_GRAPH_ROOT) return { runroot: PODMAN_RUN_ROOT, tmpdir: PODMAN_TMPDIR };
  let uid: number | null;
  try {
    uid = (await Deno.stat(ctx.host(graphRoot))).uid;
  } catch {
    return undefined;
  }
  if (uid === null || uid === 0) {
    ctx.note(`run root of the c/storage store "${graphRoot}" is unknown: conmon not read`);
    return undefined;
  }
  return { runroot: `/run/user/${uid}/containers`, tmpdir: `/run/user/${uid}/libpod/tmp` };
}

function logFormatOf(driver: string | undefined): LogFormat | undefined {
  if (driver === "k8s-file") return "podman-k8s-file";
  if (driver === "journald") return "journald";
  return undefined;
}

/** Looks a Podman container up by id. */
export async function lookupPodman(
  ctx: LookupContext,
  opts: MetadataOptions,
): Promise<ContainerMetadata> {
  const roots = [...new Set([PODMAN_GRAPH_ROOT, ...(opts.podmanRoots ?? [])])];
  const { hit, error: storageError } = await findInStorage(ctx, roots);
  const root = hit?.root ?? PODMAN_GRAPH_ROOT;
  const containersDirName = hit === undefined
    ? "overlay-containers"
    : hit.containersDir.slice(hit.containersDir.lastIndexOf("/") + 1);
  if (hit === undefined) {
    ctx.note(`"${ctx.id}" is in no c/storage containers.json under ${roots.join(", ")}`);
  }

  const dirs = await runtimeDirs(ctx, root);
  const conmon = dirs === undefined
    ? undefined
    : await ctx.optional("conmon", () => readConmon(ctx, dirs.runroot, containersDirName));

  const userdata = `${root}/${containersDirName}/${ctx.id}/userdata`;
  const specFiles = [ctx.host(`${userdata}/config.json`)];
  if (conmon?.bundle !== undefined) {
    const fromConmon = ctx.host(`${conmon.bundle}/config.json`);
    if (!specFiles.includes(fromConmon)) specFiles.push(fromConmon);
  }
  let spec: ReturnType<typeof parseOciConfig> | undefined;
  let specError: MetadataError | undefined;
  for (const file of specFiles) {
    try {
      spec = await ctx.read(file, parseOciConfig);
    } catch (e) {
      if (!(e instanceof MetadataError)) throw e;
      ctx.note(e.message);
      specError ??= e;
    }
    if (spec !== undefined) break;
  }
  if (spec === undefined) ctx.note(`no OCI spec at ${specFiles.map((f) => `"${f}"`).join(", ")}`);

  if (hit === undefined && conmon === undefined && spec === undefined) {
    const cause = storageError ?? specError;
    if (cause !== undefined) throw cause;
    throw ctx.error(
      "not_found",
      `No Podman container "${ctx.id}" in c/storage under ${
        roots.join(", ")
      } and no running conmon`,
      ctx.host(`${roots[0]}/overlay-containers/containers.json`),
    );
  }

  // Labels: only the events log has them outside the BoltDB.
  const tmpdir = conmon?.tmpdir ?? dirs?.tmpdir ?? PODMAN_TMPDIR;
  let events: PodmanEventInfo | undefined;
  if (conmon?.eventsBackend !== undefined && conmon.eventsBackend !== "file") {
    ctx.note(
      `events backend "${conmon.eventsBackend}": labels are only in libpod's bolt_state.db, which is not read`,
    );
  } else {
    const eventsFile = ctx.host(`${tmpdir}/events/events.log`);
    const index = await ctx.optional("events log", () => followEvents(ctx, eventsFile));
    events = index?.get(ctx.id);
    if (events?.labels === undefined) {
      ctx.note(
        `no event for "${ctx.id}" in "${eventsFile}": labels are only in libpod's bolt_state.db, which is not read`,
      );
    }
  }

  const meta = hit?.entry.metadata ?? {};
  const name = meta.name ?? hit?.entry.names[0] ?? conmon?.name ?? events?.name;
  let image = meta.imageName ?? events?.image;
  const imageId = meta.imageId ?? hit?.entry.image;
  if (image === undefined && imageId !== undefined && isSafeSegment(containersDirName)) {
    const imagesFile = ctx.host(
      `${root}/${containersDirName.replace(/-containers$/, "-images")}/images.json`,
    );
    const images = await ctx.optional(
      "images.json",
      () => ctx.readCached(imagesFile, parseStorageImagesJson),
    );
    image = images?.find((i) => i.id === imageId)?.names[0];
    if (image === undefined) {
      ctx.note(`image "${imageId}" has no name in "${imagesFile}"`);
      image = imageId;
    }
  }

  let logPath: string | undefined;
  let logFormat: LogFormat | undefined;
  if (conmon?.logDriver !== undefined) {
    logFormat = logFormatOf(conmon.logDriver);
    if (conmon.logDriver === "k8s-file") {
      logPath = conmon.logPath ?? `${userdata}/ctr.log`;
    } else if (logFormat === undefined) {
      ctx.note(`log driver "${conmon.logDriver}" keeps no file`);
    }
  } else if (await ctx.exists(ctx.host(`${userdata}/ctr.log`))) {
    logPath = `${userdata}/ctr.log`;
    logFormat = "podman-k8s-file";
  }

  return buildMetadata(ctx, {
    name,
    image,
    labels: events?.labels ?? {},
    env: spec?.env,
    logPath,
    logFormat,
    mounts: spec?.mounts,
    annotations: spec?.annotations,
    createdAt: hit?.entry.created,
  });
}
