/**
 * `--exclude-http-requests-by-path` globs, with the semantics of the reference's matcher
 * (`gobwas/glob` compiled without separators): the whole path must match; `*` and `**` match any
 * run of characters, `/` included; `?` one character; `[abc]`, `[a-z]` one character of a set or
 * range, `[!abc]`, `[!a-z]` one character outside it; `{a,b,...}` any one of the alternatives
 * (each itself a glob, nesting allowed; an unclosed `{` still takes the alternatives written);
 * `\` makes the next character plain (a trailing `\` is dropped). `]`, `}` and `,` outside their
 * constructs are plain text. Characters are Unicode code points.
 *
 * A pattern is compiled once into a nondeterministic automaton (one node per pattern character at
 * most), and a path is matched by walking it once while keeping the set of pattern positions it
 * may be at: O(pattern length × path length) steps for every pattern. The backtracking regular
 * expression this replaced took exponential time on paths that do not match (five `*` separated
 * by `/` and then `.js`: 16 s on a 301-character path), and paths come from the network (up to
 * about 1 KiB).
 *
 * @module
 */

/** A glob the reference's matcher would refuse (an unclosed or empty `[...]`, a backward range). */
export class GlobSyntaxError extends SyntaxError {
  /** The pattern as given. */
  readonly pattern: string;
  constructor(pattern: string, reason: string) {
    super(`Cannot compile the path glob "${pattern}": ${reason}`);
    this.name = "GlobSyntaxError";
    this.pattern = pattern;
  }
}

// Automaton node kinds. A node that reads one character goes to its target when it matches; STAR
// reads any character and stays, or goes to its target without reading; SPLIT (a `{`, or the `}`
// where alternatives meet) goes to each of its targets without reading; MATCH accepts when the
// path is used up.
const LITERAL = 0;
const ANY = 1;
const RANGE = 2;
const SET = 3;
const STAR = 4;
const SPLIT = 5;
const MATCH = 6;

/** One character test read from `[...]`: a range or a list, maybe negated. */
interface CharClass {
  range: boolean;
  not: boolean;
  /** A range's ends, or the listed code points, sorted and without repeats. */
  points: number[];
}

/** Builds the automaton left to right: edges still to be pointed at the next node are open. */
class Builder {
  readonly kind: number[] = [];
  /** Per node: its code point (LITERAL), class index (RANGE, SET), or -1. */
  readonly arg: number[] = [];
  /** Per node: its edge indices (one, or for a `{` SPLIT one per alternative). */
  readonly edgesOf: number[][] = [];
  /** Edge targets (a node index, -1 while open); edge 0 leads to the start node. */
  readonly edges: number[] = [-1];
  readonly classes: CharClass[] = [];
  /** The plain characters the pattern starts with, outside any `{`. */
  prefix = "";
  /** Edges that lead to whatever comes next in the pattern. */
  open: number[] = [0];

  /** Adds a node, points the open edges at it and returns it. */
  node(kind: number, arg: number): number {
    const n = this.kind.length;
    this.kind.push(kind);
    this.arg.push(arg);
    this.edgesOf.push([]);
    for (const e of this.open) this.edges[e] = n;
    this.open = [];
    return n;
  }

  /** Adds an edge from node `n`, still open, and returns its index. */
  edge(n: number): number {
    const e = this.edges.length;
    this.edges.push(-1);
    this.edgesOf[n].push(e);
    return e;
  }

  /** Adds a node that reads one character (or, for STAR, any run) and continues after it. */
  step(kind: number, arg: number): void {
    const n = this.node(kind, arg);
    this.open = [this.edge(n)];
  }
}

/** An open `{` group: its SPLIT node and the open edges of the alternatives already ended. */
interface Group {
  split: number;
  ends: number[];
}

/**
 * One compiled glob: a nondeterministic automaton with at most one node per character of the
 * pattern plus the accepting one, run over the path as a set of positions in the pattern (each node visited at most once
 * per character of the path). A match costs O(pattern length × (path length + 1)) whatever the
 * pattern and path; there is no backtracking.
 */
export class PathGlob {
  /** The pattern as given. */
  readonly pattern: string;
  readonly #kind: Uint8Array;
  readonly #arg: Int32Array;
  /** Per node, its targets are `#targets[#first[n]] … #targets[#first[n + 1] - 1]`. */
  readonly #first: Int32Array;
  readonly #targets: Int32Array;
  readonly #classes: CharClass[];
  readonly #start: number;
  /** Every matching path starts with this text, so a path that does not is refused at once. */
  readonly #prefix: string;
  readonly #match: number;
  /** `#mark[n] === #gen` when node `n` is already in the set being built. */
  readonly #mark: Uint32Array;
  #gen = 0;
  #current: Int32Array;
  #following: Int32Array;
  readonly #stack: Int32Array;
  #steps = 0;

  /**
   * @param pattern a glob in the syntax described in the module doc
   * @throws {GlobSyntaxError} when `[` is not closed, a `[...]` is empty, or a range runs backwards
   */
  constructor(pattern: string) {
    this.pattern = pattern;
    const b = build(pattern);
    const nodes = b.kind.length;
    this.#kind = Uint8Array.from(b.kind);
    this.#arg = Int32Array.from(b.arg);
    this.#first = new Int32Array(nodes + 1);
    const targets: number[] = [];
    for (let n = 0; n < nodes; n++) {
      this.#first[n] = targets.length;
      for (const e of b.edgesOf[n]) targets.push(b.edges[e]);
    }
    this.#first[nodes] = targets.length;
    this.#targets = Int32Array.from(targets);
    this.#classes = b.classes;
    this.#start = b.edges[0];
    this.#prefix = b.prefix;
    this.#match = nodes - 1;
    this.#mark = new Uint32Array(nodes);
    this.#current = new Int32Array(nodes);
    this.#following = new Int32Array(nodes);
    this.#stack = new Int32Array(nodes);
  }

  /**
   * The work the last `test` did: nodes taken from the set, plus nodes and edges looked at while
   * adding to it. At most 4 × (pattern code points + 1) × (path code points + 1); for tests and
   * benchmarks.
   */
  get steps(): number {
    return this.#steps;
  }

  /** Whether the whole of `path` (Unicode code points, a lone surrogate as one) matches. */
  test(path: string): boolean {
    const kind = this.#kind;
    const arg = this.#arg;
    const mark = this.#mark;
    if (this.#gen > 0xffff_fff0 - path.length) {
      mark.fill(0);
      this.#gen = 0;
    }
    this.#steps = 1;
    if (!path.startsWith(this.#prefix)) return false;
    let cur = this.#current, nxt = this.#following;
    let curLen = this.#add(this.#start, ++this.#gen, cur, 0);
    let steps = 0;
    for (let i = 0; i < path.length && curLen > 0;) {
      const c = path.codePointAt(i)!;
      i += c > 0xffff ? 2 : 1;
      const gen = ++this.#gen;
      let nxtLen = 0;
      for (let j = 0; j < curLen; j++) {
        const n = cur[j];
        steps++;
        switch (kind[n]) {
          case LITERAL:
            if (c === arg[n]) nxtLen = this.#add(this.#targets[this.#first[n]], gen, nxt, nxtLen);
            break;
          case ANY:
            nxtLen = this.#add(this.#targets[this.#first[n]], gen, nxt, nxtLen);
            break;
          case RANGE:
          case SET:
            if (inClass(this.#classes[arg[n]], c)) {
              nxtLen = this.#add(this.#targets[this.#first[n]], gen, nxt, nxtLen);
            }
            break;
          case STAR:
            nxtLen = this.#add(n, gen, nxt, nxtLen);
            break;
        }
      }
      [cur, nxt] = [nxt, cur];
      curLen = nxtLen;
    }
    this.#current = cur;
    this.#following = nxt;
    this.#steps += steps;
    return curLen > 0 && mark[this.#match] === this.#gen;
  }

  /**
   * Adds node `n` and every node reachable from it without reading (through SPLIT and STAR) to
   * `set`, skipping nodes already marked with `gen`; returns the set's new length.
   */
  #add(n: number, gen: number, set: Int32Array, len: number): number {
    const kind = this.#kind, mark = this.#mark, first = this.#first, targets = this.#targets;
    const stack = this.#stack;
    let steps = 0;
    if (mark[n] === gen) {
      this.#steps++;
      return len;
    }
    mark[n] = gen;
    let sp = 0;
    stack[sp++] = n;
    while (sp > 0) {
      const m = stack[--sp];
      steps++;
      const k = kind[m];
      if (k === SPLIT || k === STAR) {
        for (let t = first[m]; t < first[m + 1]; t++) {
          const to = targets[t];
          steps++;
          if (mark[to] !== gen) {
            mark[to] = gen;
            stack[sp++] = to;
          }
        }
      }
      if (k !== SPLIT) set[len++] = m;
    }
    this.#steps += steps;
    return len;
  }
}

/** Whether code point `c` passes the class test. */
function inClass(cls: CharClass, c: number): boolean {
  const p = cls.points;
  let found: boolean;
  if (cls.range) {
    found = c >= p[0] && c <= p[1];
  } else {
    let lo = 0, hi = p.length - 1;
    found = false;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid] === c) {
        found = true;
        break;
      }
      if (p[mid] < c) lo = mid + 1;
      else hi = mid - 1;
    }
  }
  return found !== cls.not;
}

/** Reads a pattern into the automaton's nodes, its last node MATCH. */
function build(pattern: string): Builder {
  const cs = [...pattern];
  const b = new Builder();
  const groups: Group[] = [];
  let i = 0;
  let afterStar = false; // the last node is a STAR in the same alternative
  let plain = true; // only plain characters so far, outside any `{`
  while (i < cs.length) {
    const c = cs[i];
    let star = false;
    let literal = false;
    if (c === "\\") {
      i++;
      if (i < cs.length) {
        b.step(LITERAL, cs[i].codePointAt(0)!);
        if (plain) b.prefix += cs[i];
      }
      literal = true;
      i++;
    } else if (c === "*") {
      if (!afterStar) b.step(STAR, -1); // a run of `*` matches what one does
      star = true;
      i++;
    } else if (c === "?") {
      b.step(ANY, -1);
      i++;
    } else if (c === "[") {
      const [cls, next] = charClass(pattern, cs, i + 1);
      b.classes.push(cls);
      b.step(cls.range ? RANGE : SET, b.classes.length - 1);
      i = next;
    } else if (c === "{") {
      const split = b.node(SPLIT, -1);
      groups.push({ split, ends: [] });
      b.open = [b.edge(split)];
      i++;
    } else if (c === "," && groups.length > 0) {
      const g = groups[groups.length - 1];
      for (const e of b.open) g.ends.push(e);
      b.open = [b.edge(g.split)];
      i++;
    } else if (c === "}" && groups.length > 0) {
      const g = groups.pop()!;
      for (const e of b.open) g.ends.push(e);
      b.open = g.ends;
      // Several alternatives meet in one node, so closing nested groups copies no edge lists.
      if (b.open.length > 1) b.step(SPLIT, -1);
      i++;
    } else {
      b.step(LITERAL, c.codePointAt(0)!);
      if (plain) b.prefix += c;
      literal = true;
      i++;
    }
    afterStar = star;
    plain &&= literal;
  }
  // An unclosed `{` ends with the pattern, keeping the alternatives written.
  for (const g of groups) for (const e of g.ends) b.open.push(e);
  b.node(MATCH, -1);
  return b;
}

/** Reads a `[...]` whose content starts at `i`; returns the class and the index after `]`. */
function charClass(pattern: string, cs: string[], i: number): [CharClass, number] {
  let not = false;
  if (cs[i] === "!") {
    not = true;
    i++;
  }
  if (i >= cs.length) throw new GlobSyntaxError(pattern, "unclosed [");
  if (cs[i + 1] === "-") {
    const lo = cs[i], hi = cs[i + 2];
    if (hi === undefined) throw new GlobSyntaxError(pattern, "unclosed [");
    if (cs[i + 3] === undefined) throw new GlobSyntaxError(pattern, "unclosed [");
    if (cs[i + 3] !== "]") {
      throw new GlobSyntaxError(pattern, "a range is not closed after its end");
    }
    const from = lo.codePointAt(0)!, to = hi.codePointAt(0)!;
    if (to < from) throw new GlobSyntaxError(pattern, `backward range ${lo}-${hi}`);
    return [{ range: true, not, points: [from, to] }, i + 4];
  }
  const points = new Set<number>();
  while (i < cs.length && cs[i] !== "]") {
    if (cs[i] === "\\") {
      i++;
      if (i >= cs.length) break;
    }
    points.add(cs[i].codePointAt(0)!);
    i++;
  }
  if (i >= cs.length) throw new GlobSyntaxError(pattern, "unclosed [");
  if (points.size === 0) throw new GlobSyntaxError(pattern, "empty []");
  return [{ range: false, not, points: [...points].sort((x, y) => x - y) }, i + 1];
}

/**
 * Compiles one glob.
 *
 * @throws {GlobSyntaxError} when `[` is not closed, a `[...]` is empty, or a range runs backwards
 */
export function compileGlob(pattern: string): PathGlob {
  return new PathGlob(pattern);
}

/** A set of path globs; a path is excluded when any of them matches it. */
export class PathFilter {
  readonly #globs: PathGlob[];

  /**
   * @param patterns the `--exclude-http-requests-by-path` values, in order
   * @throws {GlobSyntaxError} for the first pattern that does not compile
   */
  constructor(patterns: readonly string[]) {
    this.#globs = patterns.map(compileGlob);
  }

  /** Whether there are no patterns (every path is kept). */
  get empty(): boolean {
    return this.#globs.length === 0;
  }

  /** Whether `path` matches one of the patterns, so its request is neither counted nor traced. */
  excludes(path: string): boolean {
    for (const g of this.#globs) if (g.test(path)) return true;
    return false;
  }
}
