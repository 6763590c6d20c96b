/**
 * Bounds the work held in memory at once. Receivers reserve bytes as they read a body (so a flood of
 * large requests is refused before it is buffered) and spans once decoded; everything is released when
 * the request is answered. A reservation that would pass a limit is refused, and the receiver answers
 * 429 / RESOURCE_EXHAUSTED with Retry-After instead of queueing: memory stays bounded under any load.
 *
 * A request that is alone in flight is always admitted, so a single request up to the per-request size
 * limit can never be starved by a budget smaller than itself.
 */
export interface InFlightLimits {
  maxBytes: number;
  maxSpans: number;
}

export class InFlightLimiter {
  private bytes = 0;
  private spans = 0;
  private requests = 0;

  constructor(readonly limits: InFlightLimits) {}

  /** Starts accounting for one request, or returns null when the budget is already spent. */
  begin(): InFlightReservation | null {
    if (this.requests > 0 && (this.bytes >= this.limits.maxBytes || this.spans >= this.limits.maxSpans)) {
      return null;
    }
    this.requests++;
    return new InFlightReservation(this);
  }

  /** @internal used by InFlightReservation */
  reserve(bytes: number, spans: number, alreadyHeldBytes: number, alreadyHeldSpans: number): boolean {
    const alone = this.bytes === alreadyHeldBytes && this.spans === alreadyHeldSpans;
    if (!alone && (this.bytes + bytes > this.limits.maxBytes || this.spans + spans > this.limits.maxSpans)) {
      return false;
    }
    this.bytes += bytes;
    this.spans += spans;
    return true;
  }

  /** @internal used by InFlightReservation */
  release(bytes: number, spans: number): void {
    this.requests--;
    this.bytes -= bytes;
    this.spans -= spans;
  }

  get inFlight(): { bytes: number; spans: number; requests: number } {
    return { bytes: this.bytes, spans: this.spans, requests: this.requests };
  }
}

export class InFlightReservation {
  private bytes = 0;
  private spans = 0;
  private released = false;

  constructor(private readonly limiter: InFlightLimiter) {}

  addBytes(n: number): boolean {
    if (!this.limiter.reserve(n, 0, this.bytes, this.spans)) return false;
    this.bytes += n;
    return true;
  }

  addSpans(n: number): boolean {
    if (!this.limiter.reserve(0, n, this.bytes, this.spans)) return false;
    this.spans += n;
    return true;
  }

  /** Idempotent: safe to call from every exit path of a request. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.release(this.bytes, this.spans);
  }
}
