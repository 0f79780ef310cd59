/**
 * Groups messages of one level into patterns (contract §5.2), with a cap.
 *
 * @module
 */
import { hashWords, patternWords } from "./pattern.ts";

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

function weakEqual(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  let diffs = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && ++diffs > 1) return false;
  }
  return true;
}

/**
 * Patterns of one level. A message whose hash is a pattern's hash joins it; else one that is
 * similar joins it (taking its hash and sample); else it starts a new pattern while there is
 * room, and goes to the overflow pattern when there is none.
 */
export class PatternClassifier {
  #max: number;
  #sampleOf: (m: string) => string;
  #byHash = new Map<string, Pattern>();
  #list: Pattern[] = [];
  #overflow: Pattern | null = null;

  constructor(opts: ClassifierOptions) {
    this.#max = opts.maxPatterns;
    this.#sampleOf = opts.sampleOf ?? ((m) => m);
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
    const words = patternWords(message);
    const hash = hashWords(words);
    let p = this.#byHash.get(hash);
    if (p === undefined) {
      for (const q of this.#list) {
        if (weakEqual(q.words, words)) {
          p = q;
          break;
        }
      }
    }
    if (p === undefined) {
      if (this.#list.length >= this.#max) {
        p = this.#overflow ??= {
          hash: OVERFLOW_HASH,
          sample: OVERFLOW_SAMPLE,
          words: [],
          messages: 0,
        };
      } else {
        p = { hash, sample: this.#sampleOf(message), words, messages: 0 };
        this.#byHash.set(hash, p);
        this.#list.push(p);
      }
    }
    p.messages++;
    return p;
  }
}
