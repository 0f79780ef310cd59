/**
 * Osprey's entry point: flags → logger → host paths → registry → modules (started from the
 * permissions granted) → HTTP server; a graceful stop on SIGTERM/SIGINT detaches every BPF
 * program within the shutdown timeout.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { CollectorScheduler } from "./collector.ts";
import { CORE_FLAGS } from "./core_flags.ts";
import { FlagError, helpText, notImplementedLine, parseFlags } from "./flags.ts";
import type { FlagSpec, FlagValues, ParsedFlags } from "./flags.ts";
import { createLogger } from "./log.ts";
import type { Level, Logger } from "./log.ts";
import { Registry } from "./metrics/mod.ts";
import { formatModuleTable, startModules } from "./modules.ts";
import type { ModuleSpec } from "./modules.ts";
import { hostPaths } from "./paths.ts";
import { PENDING_FLAGS } from "./pending_flags.ts";
import { processEventsModule } from "./process_events/mod.ts";
import { containersModule } from "./containers/mod.ts";
import { netModule } from "./net/mod.ts";
import { l7Module } from "./l7/mod.ts";
import { cloudModule, configureCloud } from "./cloud/mod.ts";
import { delayacctModule } from "./delayacct/mod.ts";
import { createPushModule, effectiveListen } from "./push/mod.ts";
import { logsModule } from "./logs/mod.ts";
import { selfModule } from "./self/mod.ts";
import { currentSandbox, formatSandboxLine, recordSandbox } from "./self/sandbox.ts";
import {
  closeProcBroker,
  formatBrokerLine,
  openProcBroker,
  recordBroker,
} from "./self/proc_broker.ts";
import {
  createApp,
  formatListen,
  httpServerMetrics,
  parseListen,
  serve,
  type ServerLimits,
} from "./server/mod.ts";
import { countOpenFds, fdBudget, readFdLimits } from "./fd_limits.ts";
import { identityLabels, nodeModule } from "./node/mod.ts";

/** The agent's version, from deno.json. */
export const VERSION: string = denoJson.version;

const USAGE = `Osprey ${VERSION}: a node agent for Linux hosts and their containers.
Serves Prometheus metrics compatible with coroot-node-agent.

Usage: deno task start [flags]      (or: osprey [flags])
Every flag can also be set through the environment variable shown after it.`;

const encoder = new TextEncoder();
function out(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}
function err(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}

/** Reads an environment variable, treating a missing --allow-env grant as "unset". */
function readEnv(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/** The modules in start order. */
function moduleList(logStats: Parameters<typeof selfModule>[1]): ModuleSpec[] {
  return [
    selfModule(VERSION, logStats),
    nodeModule,
    processEventsModule,
    containersModule,
    netModule,
    l7Module,
    cloudModule,
    delayacctModule,
    // before logs: its sinks exist when the logs module makes its first parsers
    createPushModule(VERSION),
    logsModule,
  ];
}

/**
 * Every flag the agent takes: its own, each module's, and coroot-node-agent's flags that are
 * accepted but not implemented yet (`pending_flags.ts`).
 */
export function agentFlags(): FlagSpec[] {
  const modules = moduleList({ written: 0, dropped: 0 }).flatMap((m) => m.flags ?? []);
  return [...CORE_FLAGS, ...modules, ...PENDING_FLAGS];
}

/** The server's timeouts and cap from the flags (their bounds are checked when parsed). */
function serverLimits(flags: FlagValues): ServerLimits {
  return {
    headerTimeoutMs: Number(flags["http-header-timeout"]),
    idleTimeoutMs: Number(flags["http-idle-timeout"]),
    writeTimeoutMs: Number(flags["http-write-timeout"]),
    maxConnections: Number(flags["http-max-connections"]),
  };
}

/** Runs the agent until it is signalled; resolves with the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  // Deno 2.9.6 formats an error's stack through a stack-limit probe that opens
  // /proc/self/maps the first time, and panics when that open fails: out of file descriptors,
  // reading any error's .stack (logging one) would kill the agent. Probing now, while
  // descriptors are free, caches the limit for the life of the process.
  void new Error("warm-up").stack;

  const flagSpecs = agentFlags();
  let parsed: ParsedFlags;
  try {
    parsed = parseFlags(flagSpecs, args, readEnv);
  } catch (e) {
    if (e instanceof FlagError) {
      // --help answers even when another flag or an env twin holds a bad value
      if (args.includes("--help") || args.includes("-h")) {
        out(helpText(flagSpecs, USAGE));
        return 0;
      }
      err(`osprey: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    out(helpText(flagSpecs, USAGE));
    return 0;
  }
  if (parsed.version) {
    out(`osprey ${VERSION}`);
    return 0;
  }
  const flags = parsed.values;

  const { log, stats } = createLogger({
    level: flags["log-level"] as Level,
    format: flags["log-format"] === "json" ? "json" : "text",
    perSecond: Number(flags["log-per-second"]),
    burst: Number(flags["log-burst"]),
  });
  // Pushing metrics moves the listen address to loopback, as the reference does (§9.1).
  const listenAddr = effectiveListen(flags);
  const listen = parseListen(listenAddr.listen); // checked by the flag parser
  const limits = serverLimits(flags);

  const paths = hostPaths({
    hostRoot: String(flags["host-root"]),
    cgroupfsRoot: String(flags["cgroupfs-root"]) || undefined,
    procfsRoot: String(flags["procfs-root"]) || undefined,
    sysfsRoot: String(flags["sysfs-root"]) || undefined,
  });
  log.info("starting", { version: VERSION, listen: listenAddr.listen, host_root: paths.root });
  if (listenAddr.pushing) {
    log.warn("metrics are pushed: the listen address is forced to " + listenAddr.listen, {
      listen_flag: String(flags.listen),
    });
  }
  if (parsed.unimplemented.length > 0) log.warn(notImplementedLine(parsed.unimplemented));
  const fds = readFdLimits(paths);
  // The default cap shrinks to what the descriptor limit allows; a value given is used as is.
  const defaultCap = CORE_FLAGS.find((f) => f.name === "http-max-connections")?.default;
  const budget = limits.maxConnections === defaultCap
    ? fdBudget(fds?.soft, { httpConnections: limits.maxConnections!, keptFiles: Infinity })
    : { httpConnections: limits.maxConnections!, keptFiles: Infinity };
  log.info("file descriptors", {
    soft_limit: fds?.soft ?? "unknown",
    hard_limit: fds?.hard ?? "unknown",
    open: countOpenFds(paths) ?? "unknown",
    http_max_connections: budget.httpConnections,
  });
  if (fds !== undefined && fds.soft < fds.hard) {
    log.warn("the soft file descriptor limit is below the hard one; raise it with ulimit -n", {
      soft_limit: fds.soft,
      hard_limit: fds.hard,
    });
  }

  const registry = new Registry();
  const sandbox = currentSandbox();
  recordSandbox(registry, sandbox);
  // before the modules start: net, containers and delayacct ask for it
  const broker = paths.fixture ? undefined : openProcBroker(sandbox, paths.proc);
  if (sandbox.kind === "landlock" && broker !== undefined) recordBroker(registry, broker);
  await applyIdentity(registry, paths, log);
  // Overrides and the az/region labels of container series, whether or not the cloud module runs.
  configureCloud(flags, registry, { log });
  const scheduler = new CollectorScheduler(registry, log, {
    intervalMs: Number(flags["collect-interval"]),
    timeoutMs: Number(flags["collect-timeout"]),
  });
  const stopping = new AbortController();
  const started = await startModules(moduleList(stats), {
    flags,
    paths,
    registry,
    scheduler,
    log,
    signal: stopping.signal,
  });
  err(formatModuleTable(started.statuses));
  err(formatSandboxLine(sandbox));
  log.info("sandbox", { kind: sandbox.kind, abi: sandbox.abi, reason: sandbox.reason });
  if (sandbox.kind === "landlock" && broker !== undefined) {
    err(formatBrokerLine(broker));
    log.info("procfs broker", { on: broker.on, reason: broker.reason });
  }
  for (const s of started.statuses) {
    log.info("module", { module: s.module, state: s.state, reason: s.reason, enable: s.enable });
  }

  let modulesReady = false;
  void started.ready.then(() => modulesReady = true);
  const httpMetrics = httpServerMetrics(registry);
  const app = createApp({
    registry,
    ready: () => modulesReady && scheduler.firstRoundDone,
    log,
    onScrapeRefused: httpMetrics.scrapeRefused,
  });
  const serverAbort = new AbortController();
  let server: { finished: Promise<void> };
  try {
    server = await serve(app, {
      hostname: listen.hostname,
      port: listen.port,
      signal: serverAbort.signal,
      onListen: (addr) => log.info("listening", { address: formatListen(addr) }),
      limits: { ...limits, maxConnections: budget.httpConnections },
      metrics: httpMetrics,
      log,
    });
  } catch (e) {
    log.error("cannot serve", { error: e });
    err(`osprey: ${(e as Error).message}`);
    scheduler.stop();
    await started.stop(Number(flags["shutdown-timeout"]));
    return 1;
  }

  const stopped = Promise.withResolvers<string>();
  const onSignal = (sig: Deno.Signal) => () => stopped.resolve(sig);
  const handlers = (["SIGTERM", "SIGINT"] as const).map((s) => {
    const h = onSignal(s);
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });
  const signal = await stopped.promise;

  const timeoutMs = Number(flags["shutdown-timeout"]);
  log.info("stopping", { signal, timeout_ms: timeoutMs });
  const hardStop = setTimeout(() => {
    err("osprey: graceful stop took too long; exiting");
    Deno.exit(1);
  }, timeoutMs + 1000);
  stopping.abort();
  scheduler.stop();
  await started.stop(timeoutMs);
  serverAbort.abort();
  await server.finished;
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  closeProcBroker();
  clearTimeout(hardStop);
  log.info("stopped");
  return 0;
}

/** Puts machine_id and system_uuid on every series, as the contract asks (reference §1.4). */
async function applyIdentity(
  registry: Registry,
  paths: ReturnType<typeof hostPaths>,
  log: Logger,
): Promise<void> {
  try {
    registry.setConstLabels(await identityLabels(paths));
  } catch (e) {
    log.warn("cannot read the host identity; series go without machine_id", { error: e });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
