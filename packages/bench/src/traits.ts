/**
 * What a benchmarked system does and skips (WAL, fsync at commit, SQL executor, checksums,
 * files, …), stated in every benchmark report so that a figure is read against the work behind
 * it.
 *
 * Models: nothing in PostgreSQL (reporting only); the aspects are where pgsim and PostgreSQL do
 * different amounts of work for the same statement.
 * Entry points: `SystemTrait`, `describeTraits`, `traitsInBrief`.
 * See also: dml-common.ts (`DML_SYSTEM_TRAITS`), backends.ts (`backendsTraits`), dml-report.ts,
 * backends-report.ts.
 */

/** One thing a system does or skips. */
export interface SystemTrait {
  /** What is stated: "WAL", "fsync at commit", "SQL executor", "checksums", "files on disk", … */
  aspect: string;
  /** Whether the system does it ("files on disk": whether it has files). */
  does: boolean;
  /** A table cell: "no", "yes, with FPIs", … */
  short: string;
  /** The full statement, a sentence. */
  note: string;
}

/** Aspects that say how, not whether (every system does them): left out of does/skips lists. */
const HOW_ASPECTS: readonly string[] = ["insert path", "index", "client protocol"];

/**
 * "does: …; skips: …" in one line (a part with nothing in it is left out).
 *
 * @example
 * ```ts
 * describeTraits(DML_SYSTEM_TRAITS["pgsim-heap"]);
 * // "does: files on disk; skips: WAL, fsync at commit, SQL executor, checksums"
 * ```
 */
export function describeTraits(traits: readonly SystemTrait[]): string {
  const does = traits.filter((t) => t.does && !HOW_ASPECTS.includes(t.aspect)).map((t) => t.aspect);
  const skips = traits.filter((t) => !t.does).map((t) => t.aspect);
  const parts = [
    ...(does.length > 0 ? [`does: ${does.join(", ")}`] : []),
    ...(skips.length > 0 ? [`skips: ${skips.join(", ")}`] : []),
  ];
  return parts.join("; ");
}

/** WAL, fsync at commit and SQL executor in a few words: "no WAL, no fsync at commit, …". */
export function traitsInBrief(traits: readonly SystemTrait[]): string {
  return traits
    .filter(
      (t) => t.aspect === "WAL" || t.aspect === "fsync at commit" || t.aspect === "SQL executor",
    )
    .map((t) => `${t.does ? "" : "no "}${t.aspect}`)
    .join(", ");
}
