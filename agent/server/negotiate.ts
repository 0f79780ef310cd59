/**
 * Content negotiation for `/metrics`: which exposition format (`Accept`) and whether to
 * gzip (`Accept-Encoding`), both honouring q-values.
 *
 * @module
 */
import type { ExpositionFormat } from "../metrics/mod.ts";

interface MediaRange {
  type: string;
  subtype: string;
  params: Map<string, string>;
  q: number;
}

/** Reads a q-value; a missing one is 1, an invalid one makes the entry count as refused. */
function qValue(raw: string | undefined): number {
  if (raw === undefined) return 1;
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(raw)) return 0;
  return Number(raw);
}

function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of header.split(",")) {
    const [range, ...paramParts] = part.split(";");
    const [type, subtype] = range.trim().toLowerCase().split("/");
    if (!type || !subtype) continue;
    const params = new Map<string, string>();
    for (const p of paramParts) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = p.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
      params.set(key, value);
    }
    out.push({ type, subtype, params, q: qValue(params.get("q")) });
  }
  return out;
}

/**
 * Picks the exposition format for an `Accept` header.
 *
 * OpenMetrics is chosen only when `application/openmetrics-text` (with `version=1.0.0` or no
 * version) is listed explicitly with q > 0 and a q at least that of the best text match
 * (`text/plain`, `text/*` or `*\/*`). Everything else, including a missing header, gets the
 * Prometheus text format 0.0.4.
 *
 * @example
 * ```ts
 * negotiateFormat("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.3"); // "openmetrics"
 * negotiateFormat("*\/*"); // "text"
 * ```
 */
export function negotiateFormat(accept: string | null | undefined): ExpositionFormat {
  if (!accept) return "text";
  let omQ = 0;
  let textQ = 0;
  for (const r of parseAccept(accept)) {
    if (r.type === "application" && r.subtype === "openmetrics-text") {
      const version = r.params.get("version");
      if (version === undefined || version === "1.0.0") omQ = Math.max(omQ, r.q);
    } else if (
      (r.type === "text" && (r.subtype === "plain" || r.subtype === "*")) ||
      (r.type === "*" && r.subtype === "*")
    ) {
      textQ = Math.max(textQ, r.q);
    }
  }
  return omQ > 0 && omQ >= textQ ? "openmetrics" : "text";
}

/** Whether an `Accept-Encoding` header allows gzip (`gzip` or `*` with q > 0). */
export function acceptsGzip(acceptEncoding: string | null | undefined): boolean {
  if (!acceptEncoding) return false;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of acceptEncoding.split(",")) {
    const [coding, ...params] = part.split(";");
    const name = coding.trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split("=").map((s) => s.trim().toLowerCase());
      if (k === "q") q = qValue(v);
    }
    if (name === "gzip" || name === "x-gzip") gzip = Math.max(gzip ?? 0, q);
    else if (name === "*") star = q;
  }
  return (gzip ?? star ?? 0) > 0;
}
