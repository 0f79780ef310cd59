/**
 * Per-container delay counters that survive process exits: each round adds, per process, what
 * its counters grew by since the previous round (the whole value for a process seen for the
 * first time) to its container's totals. A process that exits takes nothing away; its last
 * increase before the exit, between the last round and the exit, is not seen (as in the
 * reference).
 *
 * A process is known by its pid and its start time (from the container registry). A pid that
 * comes back with another start time is another process: counted from its whole value. When
 * a process's counter goes down without that (a pid reused between two reads of the
 * registry), it is taken for a new process too, and counted in {@linkcode pidReuses}.
 *
 * CPU delay comes from one of two sources (see mod.ts): taskstats' per-process total
 * (`cpu_delay_total`, which also keeps what exited threads waited), or schedstat's per-thread
 * run-queue waits, followed thread by thread (a thread that exits between two rounds takes
 * its last increase with it). When a process's source changes, its values are taken as the
 * new baseline: nothing is added that round. Block I/O delay comes only from taskstats.
 *
 * @module
 */

/** Where a CPU delay reading came from. */
export type CpuSource = "taskstats" | "schedstat";

/** One process's reading of a round. */
export interface DelayReading {
  readonly source: CpuSource;
  /** taskstats: `cpu_delay_total` of the thread group, ns. */
  readonly cpuNs?: number;
  /** schedstat: run-queue wait per thread id, ns. */
  readonly threads?: ReadonlyMap<number, number>;
  /** taskstats: `blkio_delay_total`, ns; undefined when not read. */
  readonly blkioNs?: number;
  /** taskstats: `blkio_count`, the block I/O waits that ended (with blkioNs). */
  readonly blkioCount?: number;
}

interface ProcState {
  startMs: number;
  round: number;
  source: CpuSource;
  cpuNs: number;
  threads?: Map<number, number>;
  blkioNs?: number;
  blkioCount?: number;
}

/** A container's totals, in ns (as a float: exact to the ns up to 104 days). */
export interface DelayTotals {
  cpuNs: number;
  blkioNs: number;
}

/** The counters of every container. One round at a time, on one thread. */
export class DelayAccounts {
  readonly #procs = new Map<number, ProcState>();
  readonly #totals = new Map<string, DelayTotals>();
  #round = 0;
  /** Processes taken for new ones because a counter went down (pid reuse the registry missed). */
  pidReuses = 0;
  /** Processes whose pid came back with another start time. */
  restarts = 0;
  /**
   * Block I/O delay increases not added because they cannot be true: longer than the
   * process's age for each wait that ended (see {@linkcode plausibleBlkio}).
   */
  implausible = 0;
  #nowMs = 0;

  /**
   * Starts a round: processes not added or kept until {@linkcode endRound} are forgotten.
   *
   * @param nowMs wall clock of the readings, in the registry's start-time clock (for the
   *   plausibility check of block I/O delays)
   */
  beginRound(nowMs = Date.now()): void {
    this.#round++;
    this.#nowMs = nowMs;
  }

  /**
   * Adds a process's reading to its container.
   *
   * @param containerId the container the process is in now (what it grew by goes there, also
   *   when it moved since the last round)
   * @param pid the process
   * @param startMs its start time as the registry knows it
   * @param r the reading
   */
  add(containerId: string, pid: number, startMs: number, r: DelayReading): void {
    if (r.source === "taskstats" ? r.cpuNs === undefined : r.threads === undefined) {
      this.keep(pid, startMs); // a reading without its value changes nothing
      return;
    }
    let p = this.#procs.get(pid);
    if (p !== undefined && p.startMs !== startMs) {
      this.restarts++;
      p = undefined;
    }
    const t = this.#totalsOf(containerId);
    if (p !== undefined && p.source === r.source && this.#wentDown(p, r)) {
      this.pidReuses++;
      p = undefined;
    }
    if (p === undefined) {
      p = { startMs, round: this.#round, source: r.source, cpuNs: 0 };
      this.#procs.set(pid, p);
      t.cpuNs += this.#takeCpu(p, r, true);
      if (r.blkioNs !== undefined) t.blkioNs += this.#blkioGrowth(p, r.blkioNs, r.blkioCount);
      p.blkioNs = r.blkioNs;
      p.blkioCount = r.blkioCount;
      return;
    }
    p.round = this.#round;
    if (p.source !== r.source) {
      p.source = r.source;
      p.threads = undefined;
      this.#takeCpu(p, r, false);
    } else {
      t.cpuNs += this.#takeCpu(p, r, true);
    }
    if (r.blkioNs !== undefined) {
      if (p.blkioNs !== undefined) {
        const waits = r.blkioCount !== undefined && p.blkioCount !== undefined
          ? r.blkioCount - p.blkioCount
          : undefined;
        t.blkioNs += this.#blkioGrowth(p, r.blkioNs - p.blkioNs, waits);
      }
      p.blkioNs = r.blkioNs;
      p.blkioCount = r.blkioCount;
    }
  }

  /** Keeps a process whose reading failed this round (its counters stay where they were). */
  keep(pid: number, startMs: number): void {
    const p = this.#procs.get(pid);
    if (p !== undefined && p.startMs === startMs) p.round = this.#round;
  }

  /** Ends a round: forgets processes neither added nor kept in it (they exited). */
  endRound(): void {
    for (const [pid, p] of this.#procs) if (p.round !== this.#round) this.#procs.delete(pid);
  }

  /** A container's totals, or undefined before its first process was added. */
  totals(containerId: string): Readonly<DelayTotals> | undefined {
    return this.#totals.get(containerId);
  }

  /** Forgets a container removed from the registry. */
  forget(containerId: string): void {
    this.#totals.delete(containerId);
  }

  /** Processes followed. */
  get processCount(): number {
    return this.#procs.size;
  }

  #totalsOf(id: string): DelayTotals {
    let t = this.#totals.get(id);
    if (t === undefined) this.#totals.set(id, t = { cpuNs: 0, blkioNs: 0 });
    return t;
  }

  /** The block I/O growth to add: `grown`, or 0 when it cannot be true (counted). */
  #blkioGrowth(p: ProcState, grown: number, waits: number | undefined): number {
    if (waits === undefined || plausibleBlkio(grown, waits, this.#nowMs - p.startMs)) return grown;
    this.implausible++;
    return 0;
  }

  #wentDown(p: ProcState, r: DelayReading): boolean {
    if (r.source === "taskstats" && r.cpuNs !== undefined && r.cpuNs < p.cpuNs) return true;
    return r.blkioNs !== undefined && p.blkioNs !== undefined && r.blkioNs < p.blkioNs;
  }

  /** Sets p's CPU baseline from r; returns the growth since the old one (whole values for new threads). */
  #takeCpu(p: ProcState, r: DelayReading, count: boolean): number {
    if (r.source === "taskstats") {
      const v = r.cpuNs ?? 0;
      const grown = v - p.cpuNs;
      p.cpuNs = v;
      return count ? grown : 0;
    }
    let grown = 0;
    const next = new Map<number, number>();
    for (const [tid, v] of r.threads ?? []) {
      const last = p.threads?.get(tid);
      // a new thread, or a thread id reused by a new thread (its counter restarted)
      grown += last === undefined || v < last ? v : v - last;
      next.set(tid, v);
    }
    p.threads = next;
    return count ? grown : 0;
  }
}

/** Slack for the start time's resolution and the clocks' difference, ms. */
const AGE_SLACK_MS = 1000;

/**
 * Whether a block I/O delay increase can be true. Each wait that ended (`blkio_count` grew by
 * one) lasted at most as long as the process has existed, so `grownNs` is at most `waits` times
 * its age. The kernel breaks this when a wait began while accounting was off and ended after it
 * was turned on: the wait's recorded start is then 0 and it counts as the whole time since
 * boot (seen once on 6.18 as a 16,487 s jump for a container started seconds before).
 *
 * @param grownNs the increase of `blkio_delay_total`, ns
 * @param waits the increase of `blkio_count`
 * @param ageMs the process's age, ms
 */
export function plausibleBlkio(grownNs: number, waits: number, ageMs: number): boolean {
  if (grownNs <= 0) return true;
  return grownNs <= Math.max(0, waits) * (Math.max(0, ageMs) + AGE_SLACK_MS) * 1e6;
}
