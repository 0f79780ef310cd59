/**
 * Groups messages of one level into patterns (contract §5.2), with a cap.
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
  /** the pattern words of that message (empty for overflow) */
  readonly words: readonly string[];
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
  /** share of tokens that may differ (values and words together) */
  maxDiffShare: number;
  /** share of tokens that must be equal constants */
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
}

/**
 * Patterns of one level. A message joins the most similar pattern with as many tokens (see
 * tokens.ts for the token shapes): positions where the pattern already holds a value match
 * anything; other differing positions count, and a message joins only if at most
 * `maxDiffShare` of its tokens differ and at most `maxWordDiffs` of those are plain words on
 * both sides. A message that joins a pattern takes its hash and sample (the contract's rule);
 * one that joins none starts a new pattern (hash: the reference's, of its own words) while
 * there is room, and goes to the overflow pattern when there is none.
 */
export class PatternClassifier {
  #max: number;
  #sampleOf: (m: string) => string;
  #tun: GroupingTunables;
  #byLength = new Map<number, Cluster[]>();
  #list: Cluster[] = [];
  #overflow: Pattern | null = null;

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
    const n = toks.length;
    let peers = this.#byLength.get(n);
    let best: Cluster | null = null;
    let bestDiffs = Infinity;
    if (peers !== undefined) {
      let consts = 0;
      for (let i = 0; i < n; i++) if (toks[i] !== VAR) consts++;
      const maxDiffs = Math.floor(consts * this.#tun.maxDiffShare);
      const minSame = Math.ceil(consts * this.#tun.minSameShare);
      for (const c of peers) {
        const t = c.tokens;
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
          const ka = tokenKind(a), kb = tokenKind(b);
          if (ka === TokenKind.Value || kb === TokenKind.Value) continue;
          if (
            ka === TokenKind.Strict || kb === TokenKind.Strict || i < this.#tun.strictPrefix ||
            ++words > this.#tun.maxWordDiffs
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
    let p: Pattern;
    if (best !== null) {
      if (bestDiffs > 0) {
        const t = best.tokens;
        for (let i = 0; i < n; i++) if (t[i] !== toks[i]) t[i] = VAR;
      }
      p = best;
    } else if (this.#list.length >= this.#max) {
      p = this.#overflow ??= {
        hash: OVERFLOW_HASH,
        sample: OVERFLOW_SAMPLE,
        words: [],
        messages: 0,
      };
    } else {
      const words = patternWords(message);
      const c: Cluster = {
        hash: hashWords(words),
        sample: this.#sampleOf(message),
        words,
        messages: 0,
        tokens: toks,
      };
      this.#list.push(c);
      if (peers === undefined) this.#byLength.set(n, peers = []);
      peers.push(c);
      p = c;
    }
    p.messages++;
    return p;
  }
}
