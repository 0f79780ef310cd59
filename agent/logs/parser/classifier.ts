/**
 * Groups messages of one level into patterns (contract §5.2), with a cap. What a pattern is
 * called follows the contract exactly (the reference's hash of its first message's words, that
 * message as its sample, the overflow pattern); which messages join it is Osprey's own
 * comparison of token shapes (tokens.ts), which groups Loghub's datasets far better than the
 * reference's "same hash, or words differing in one place" (README "Logs").
 *
 * @module
 */
import { hashWords, patternWords } from "./pattern.ts";
import { messageTokens, TokenKind, tokenKind, VAR } from "./tokens.ts";

/** The overflow pattern's hash (the reference's). */
export const OVERFLOW_HASH = "00000000000000000000000000000000";
/** The overflow pattern's sample (the reference's). */
export const OVERFLOW_SAMPLE = "unclassified pattern (pattern limit reached)";

/** One pattern of a level. */
export interface Pattern {
  /** the hash of the words of the message that created it; {@link OVERFLOW_HASH} for overflow */
  readonly hash: string;
  /** the message that created it (as given: the caller cuts it for labels) */
  readonly sample: string;
  /** messages grouped into it */
  messages: number;
}

/** Options of a {@link PatternClassifier}. */
export interface ClassifierOptions {
  /** most patterns; beyond it messages go to the overflow pattern (`--log-patterns-per-container`) */
  maxPatterns: number;
  /** the sample kept for a new pattern, from its message; @default the message itself */
  sampleOf?: (message: string) => string;
}

/** Tunables of the grouping (the defaults are what the agent and `deno task patterns` use). */
export interface GroupingTunables {
  /** constant words two messages may differ in and still group */
  maxWordDiffs: number;
  /** share of the message's constant tokens that may differ from the pattern's constants */
  maxDiffShare: number;
  /** share of the message's constant tokens that must equal the pattern's constants */
  minSameShare: number;
  /** the first tokens that must not be differing words */
  strictPrefix: number;
}

/** The defaults of {@link GroupingTunables}. */
export const DEFAULT_TUNABLES: GroupingTunables = {
  maxWordDiffs: 1,
  maxDiffShare: 0.5,
  minSameShare: 0.5,
  strictPrefix: 3,
};

interface Cluster extends Pattern {
  /** the token shapes, constants turned into {@link VAR} where members differed */
  tokens: string[];
  /** the kind of each constant of the first message ({@link TokenKind}) */
  kinds: Uint8Array;
}

const UNKNOWN_KIND = 255;

/** True unless `a` and `b` are `key=value` words with different keys (or only one has a key). */
function sameKey(a: string, b: string): boolean {
  const i = a.indexOf("="), j = b.indexOf("=");
  if (i < 0 && j < 0) return true;
  return i === j && a.startsWith(b.slice(0, j + 1));
}

/** Token shapes remembered with the pattern they went to (a small cache: the same shape always
 * goes to the same pattern, so repeated shapes skip the search). */
const CACHE_ENTRIES = 64;
/** Longest shape (tokens, and UTF-16 units of the joined key) the cache takes. */
const CACHE_MAX_TOKENS = 64;
const CACHE_MAX_KEY = 256;

/**
 * Patterns of one level. A message joins the pattern with as many tokens that differs from it
 * in the fewest places (see tokens.ts for the token shapes), if:
 * - at least `minSameShare` of the message's constant tokens equal the pattern's constants;
 * - at most `maxDiffShare` of them differ from a constant of the pattern (a place where the
 *   pattern already holds a value matches anything);
 * - a differing place is free when either token is value-like (paths, dotted or dashed names);
 *   at most `maxWordDiffs` may be plain words (or `key=word` with the same key), none in the
 *   first `strictPrefix` tokens; any other differing token (`key=<*>`, `name(`…) forbids it.
 *
 * The places where they differed become values. A message that joins a pattern takes its hash
 * and sample (the contract's rule); one that joins none starts a new pattern (hash: the
 * reference's, of its own words) while there is room, and goes to the overflow pattern when
 * there is none.
 */
export class PatternClassifier {
  #max: number;
  #sampleOf: (m: string) => string;
  #tun: GroupingTunables;
  #byLength = new Map<number, Cluster[]>();
  #list: Cluster[] = [];
  #overflow: Pattern | null = null;
  #cache = new Map<string, Pattern>();
  #scratch = new Uint8Array(64);

  constructor(opts: ClassifierOptions & { tunables?: GroupingTunables }) {
    this.#max = opts.maxPatterns;
    this.#sampleOf = opts.sampleOf ?? ((m) => m);
    this.#tun = opts.tunables ?? DEFAULT_TUNABLES;
  }

  /** Every pattern, the overflow one last (if any message went there). */
  patterns(): Pattern[] {
    return this.#overflow === null ? [...this.#list] : [...this.#list, this.#overflow];
  }

  /** Number of patterns (without overflow). */
  get size(): number {
    return this.#list.length;
  }

  /** The pattern `message` belongs to (created if new); its count is incremented. */
  classify(message: string): Pattern {
    const toks = messageTokens(message);
    const key = toks.length <= CACHE_MAX_TOKENS ? toks.join("\u0001") : null;
    if (key !== null && key.length <= CACHE_MAX_KEY) {
      const hit = this.#cache.get(key);
      if (hit !== undefined) {
        hit.messages++;
        return hit;
      }
    }
    const p = this.#place(message, toks);
    if (key !== null && key.length <= CACHE_MAX_KEY) {
      if (this.#cache.size >= CACHE_ENTRIES) this.#cache.clear();
      this.#cache.set(key, p);
    }
    p.messages++;
    return p;
  }

  #place(message: string, toks: string[]): Pattern {
    const n = toks.length;
    let peers = this.#byLength.get(n);
    let best: Cluster | null = null;
    let bestDiffs = Infinity;
    if (peers !== undefined) {
      let consts = 0;
      for (let i = 0; i < n; i++) if (toks[i] !== VAR) consts++;
      const maxDiffs = Math.floor(consts * this.#tun.maxDiffShare);
      const minSame = Math.ceil(consts * this.#tun.minSameShare);
      const mk = this.#kinds(n);
      for (const c of peers) {
        const t = c.tokens, ck = c.kinds;
        let diffs = 0, words = 0, same = 0;
        for (let i = 0; i < n; i++) {
          const a = t[i], b = toks[i];
          if (a === b) {
            if (a !== VAR) same++;
            continue;
          }
          if (a === VAR) continue;
          if (++diffs > maxDiffs) break;
          if (b === VAR) continue;
          let kb = mk[i];
          if (kb === UNKNOWN_KIND) kb = mk[i] = tokenKind(b);
          const ka = ck[i];
          if (ka === TokenKind.Value || kb === TokenKind.Value) continue;
          if (
            ka === TokenKind.Strict || kb === TokenKind.Strict || i < this.#tun.strictPrefix ||
            ++words > this.#tun.maxWordDiffs || !sameKey(a, b)
          ) {
            diffs = Infinity;
            break;
          }
        }
        if (same < minSame) continue;
        if (diffs <= maxDiffs && diffs < bestDiffs) {
          best = c;
          bestDiffs = diffs;
          if (diffs === 0) break;
        }
      }
    }
    if (best !== null) {
      if (bestDiffs > 0) {
        const t = best.tokens;
        for (let i = 0; i < n; i++) if (t[i] !== toks[i]) t[i] = VAR;
      }
      return best;
    }
    if (this.#list.length >= this.#max) {
      return this.#overflow ??= {
        hash: OVERFLOW_HASH,
        sample: OVERFLOW_SAMPLE,
        messages: 0,
      };
    }
    const kinds = new Uint8Array(n);
    for (let i = 0; i < n; i++) kinds[i] = toks[i] === VAR ? TokenKind.Value : tokenKind(toks[i]);
    const c: Cluster = {
      hash: hashWords(patternWords(message)),
      sample: this.#sampleOf(message),
      messages: 0,
      tokens: toks,
      kinds,
    };
    this.#list.push(c);
    if (peers === undefined) this.#byLength.set(n, peers = []);
    peers.push(c);
    return c;
  }

  /** A scratch array of `n` unknown token kinds (reused). */
  #kinds(n: number): Uint8Array {
    if (this.#scratch.length < n) {
      this.#scratch = new Uint8Array(Math.max(n, 2 * this.#scratch.length));
    }
    const k = this.#scratch.subarray(0, n);
    k.fill(UNKNOWN_KIND);
    return k;
  }
}
