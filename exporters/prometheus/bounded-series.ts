/**
 * A per-metric cardinality limit. Label values such as team_id, service or model come from the spans
 * applications send, so their number is not ours to choose: one misbehaving app (a request id in
 * `service.name`) would otherwise grow Prometheus without bound. Up to `maxSeries` series are kept,
 * first come first served, and stay for the life of the process (a counter must not vanish); every
 * later label set is folded into one overflow series whose high-cardinality labels read
 * `__overflow__`, and each recording folded there is counted, so totals stay right and the overflow
 * is visible (genai_ledger_metric_series_overflow_total{metric}).
 */
export const OVERFLOW_LABEL_VALUE = '__overflow__';

export class BoundedSeries<E> {
  private readonly kept = new Map<string, E>();
  private readonly overflow = new Map<string, E>();
  private seriesCount = 0;

  constructor(
    /** Most series kept, overflow series not included. */
    readonly maxSeries: number,
    /** Told once per recording that lands in an overflow series. */
    private readonly onOverflow: () => void,
  ) {
    if (!Number.isInteger(maxSeries) || maxSeries < 0) throw new RangeError(`maxSeries must be a non-negative integer, got ${maxSeries}`);
  }

  /**
   * The entry for `key`, created when there is room for `weight` more series (an entry standing for
   * several series, e.g. one per token class, is admitted whole or not at all); otherwise the overflow
   * entry for `overflowKey`.
   */
  entry(key: string, weight: number, create: () => E, overflowKey: string, createOverflow: () => E): E {
    const existing = this.kept.get(key);
    if (existing !== undefined) return existing;
    if (this.seriesCount + weight <= this.maxSeries) {
      const created = create();
      this.kept.set(key, created);
      this.seriesCount += weight;
      return created;
    }
    this.onOverflow();
    let folded = this.overflow.get(overflowKey);
    if (folded === undefined) {
      folded = createOverflow();
      this.overflow.set(overflowKey, folded);
    }
    return folded;
  }

  /** Kept entries, then overflow entries. */
  *entries(): IterableIterator<E> {
    yield* this.kept.values();
    yield* this.overflow.values();
  }

  get size(): { kept: number; series: number; overflow: number } {
    return { kept: this.kept.size, series: this.seriesCount, overflow: this.overflow.size };
  }
}
