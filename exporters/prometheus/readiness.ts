/**
 * Readiness: whether this instance should be sent traffic now. `/readyz` answers 200 only when every
 * check passes, and `genai_ledger_ready` exposes the same answer as 0/1, from the same probe.
 */
export interface ReadinessCheck {
  /** Short stable name, e.g. `listeners`, `ledger`, `commits`, `load`. */
  name: string;
  ok: boolean;
  /** Why it is not ok, for humans (shown by /readyz). */
  reason?: string;
}

export type ReadinessProbe = () => readonly ReadinessCheck[] | Promise<readonly ReadinessCheck[]>;

export interface ReadinessReport {
  ready: boolean;
  checks: ReadinessCheck[];
  /** The reasons of the failed checks, in check order. */
  reasons: string[];
}

/**
 * Runs the probe. A probe that throws or does not answer within `timeoutMs` makes the instance not
 * ready (a hung ledger must not look healthy); without a probe the instance is ready.
 */
export async function checkReadiness(probe: ReadinessProbe | undefined, timeoutMs = 2000): Promise<ReadinessReport> {
  if (probe === undefined) return { ready: true, checks: [], reasons: [] };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`readiness probe did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const checks = [...(await Promise.race([Promise.resolve().then(probe), timeout]))];
    const reasons = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason ?? 'not ok'}`);
    return { ready: reasons.length === 0, checks, reasons };
  } catch (err) {
    const reason = `probe: ${(err as Error).message}`;
    return { ready: false, checks: [{ name: 'probe', ok: false, reason: (err as Error).message }], reasons: [reason] };
  } finally {
    clearTimeout(timer);
  }
}

/** What genai-ledger's readiness is made of (the server fills it in). */
export interface LedgerReadinessState {
  /** Every configured OTLP receiver is bound and accepting. */
  listenersUp: boolean;
  /** The ledger file is open for writing. */
  ledgerOpen: boolean;
  /** The last ledger commit succeeded (or none has been tried yet). */
  ledgerCommitting: boolean;
  /** Requests are being refused for load (in-flight limits reached) right now. */
  refusingLoad: boolean;
}

/** The standard probe: four named checks from the server's state. */
export function ledgerReadiness(state: () => LedgerReadinessState | Promise<LedgerReadinessState>): ReadinessProbe {
  return async () => {
    const s = await state();
    return [
      check('listeners', s.listenersUp, 'the OTLP receivers are not listening'),
      check('ledger', s.ledgerOpen, 'the ledger file is not open'),
      check('commits', s.ledgerCommitting, 'ledger commits are failing; exports are answered 503 / UNAVAILABLE'),
      check('load', !s.refusingLoad, 'refusing load: in-flight limits reached; exports are answered 429 / RESOURCE_EXHAUSTED'),
    ];
  };
}

function check(name: string, ok: boolean, reason: string): ReadinessCheck {
  return ok ? { name, ok } : { name, ok, reason };
}
