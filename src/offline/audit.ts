import type { LedgerChanges } from '../../core/ledger-changes.js';
import type { LedgerRow } from '../../core/ledger-row.js';
import { findAttribute, type AnyValue, type TraceRequest } from '../../core/otlp.js';
import { Attributor } from '../../processors/attribution/attributor.js';
import { loadMappingTables } from '../../processors/attribution/mapping-tables.js';
import { costMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { UserIdPolicy } from '../../processors/privacy/user-id-policy.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { LedgerProcessor } from '../pipeline/ledger-processor.js';
import { readOtlpFile, type OtlpFileKind } from './otlp-files.js';

/**
 * `genai-ledger audit`: what a ledger would make of OTLP trace files, without one. Each file goes through the
 * same processor as the server (detection, counted once, ownership from span/ancestor/resource/mapping files,
 * pricing with the configured overrides) into an in-memory model of the two ledger tables, and the audit
 * tells, per file: how many LLM calls and how much money; which ownership fields are missing on which
 * services and routes; which calls are unpriced, which lack token counts. User ids are never kept.
 *
 * A route is the nearest ancestor's `http.route` (else a server span's name): the request the call served.
 */

export const OWNERSHIP_FIELDS = ['team_id', 'cost_center', 'project_id', 'environment', 'service'] as const;
export type OwnershipField = (typeof OWNERSHIP_FIELDS)[number];

export interface RouteGap {
  service: string | null;
  route: string | null;
  calls: number;
  /** Calls missing each field. */
  missing: Record<OwnershipField, number>;
  costPicoUsd: bigint;
}

export interface ModelCount {
  provider: string | null;
  model: string | null;
  service: string | null;
  calls: number;
}

export interface FileAudit {
  file: string;
  kind: OtlpFileKind | null;
  spans: number;
  calls: number;
  duplicates: number;
  rejectedSpans: number;
  costPicoUsd: bigint;
  /** Calls with every ownership field and a cost. */
  attributedCalls: number;
  /** (service, route) pairs with at least one call missing an ownership field, most calls first. */
  ownershipGaps: RouteGap[];
  unpriced: ModelCount[];
  missingTokens: ModelCount[];
  skipped: number;
  error: string | null;
}

/** The processor the server would build from `config` (mapping tables, price book, thresholds, windows). */
export async function auditProcessor(config: LedgerConfig): Promise<LedgerProcessor> {
  const tables = await loadMappingTables({ teamsFile: config.attribution.teamsFile, servicesFile: config.attribution.servicesFile });
  const priceBook = await PriceBook.load(config.pricing.overridesFile);
  return new LedgerProcessor(new Attributor(tables), priceBook, {
    costMismatch: costMismatchThresholds(config.pricing.costMismatch),
    userIds: UserIdPolicy.drop(),
    ancestorWindowSeconds: config.attribution.ancestorWindowSeconds,
    traceCacheMaxSpans: config.attribution.traceCacheMaxSpans,
  });
}

export async function auditFile(config: LedgerConfig, file: string): Promise<FileAudit> {
  const audit: FileAudit = {
    file,
    kind: null,
    spans: 0,
    calls: 0,
    duplicates: 0,
    rejectedSpans: 0,
    costPicoUsd: 0n,
    attributedCalls: 0,
    ownershipGaps: [],
    unpriced: [],
    missingTokens: [],
    skipped: 0,
    error: null,
  };
  let parsed;
  try {
    parsed = await readOtlpFile(file);
  } catch (err) {
    audit.error = (err as Error).message;
    return audit;
  }
  audit.kind = parsed.kind;
  // A fresh processor per file: each file is audited on its own, as if it were the ledger's only input.
  const processor = await auditProcessor(config);
  const ledger = new LedgerTables();
  const routes = new RouteIndex();
  for (const chunk of parsed.chunks) {
    if (chunk.request === null) {
      audit.skipped++;
      continue;
    }
    routes.index(chunk.request);
    const result = processor.process(chunk.request);
    audit.rejectedSpans += result.rejectedSpans;
    ledger.apply(result.rows, result.changes);
    for (const rs of chunk.request.resourceSpans) for (const ss of rs.scopeSpans) audit.spans += ss.spans.length;
  }
  const billed = [...ledger.billed.values()];
  audit.calls = billed.length;
  audit.duplicates = ledger.duplicates.size;
  const gaps = new Map<string, RouteGap>();
  const unpriced = new Map<string, ModelCount>();
  const noTokens = new Map<string, ModelCount>();
  const count = (map: Map<string, ModelCount>, row: LedgerRow) => {
    const key = JSON.stringify([row.provider, row.model, row.service]);
    const entry = map.get(key) ?? { provider: row.provider, model: row.model, service: row.service, calls: 0 };
    entry.calls++;
    map.set(key, entry);
  };
  for (const row of billed) {
    if (row.requestCostPicoUsd !== null) audit.costPicoUsd += row.requestCostPicoUsd;
    if (row.exceptions.includes('missing_tokens') || row.exceptions.includes('invalid_tokens')) count(noTokens, row);
    else if (row.requestCostPicoUsd === null) count(unpriced, row);
    const values: Record<OwnershipField, string | null> = {
      team_id: row.teamId,
      cost_center: row.costCenter,
      project_id: row.projectId,
      environment: row.environment,
      service: row.service,
    };
    const missing = OWNERSHIP_FIELDS.filter((f) => values[f] === null);
    if (missing.length === 0 && row.requestCostPicoUsd !== null) audit.attributedCalls++;
    if (missing.length === 0) continue;
    const route = routes.routeOf(row.traceId, row.parentSpanId);
    const key = JSON.stringify([row.service, route]);
    const gap =
      gaps.get(key) ??
      ({ service: row.service, route, calls: 0, missing: Object.fromEntries(OWNERSHIP_FIELDS.map((f) => [f, 0])) as Record<OwnershipField, number>, costPicoUsd: 0n } satisfies RouteGap);
    gap.calls++;
    gap.costPicoUsd += row.requestCostPicoUsd ?? 0n;
    for (const f of missing) gap.missing[f]++;
    gaps.set(key, gap);
  }
  const byCalls = <T extends { calls: number }>(a: T, b: T) => b.calls - a.calls;
  audit.ownershipGaps = [...gaps.values()].sort(byCalls);
  audit.unpriced = [...unpriced.values()].sort(byCalls);
  audit.missingTokens = [...noTokens.values()].sort(byCalls);
  return audit;
}

/** The two ledger tables in memory, with the DuckDB exporter's semantics (first copy wins, moves, late owners). */
class LedgerTables {
  readonly billed = new Map<string, LedgerRow>();
  readonly duplicates = new Map<string, LedgerRow>();

  apply(rows: readonly LedgerRow[], changes: LedgerChanges | null): void {
    const key = (r: { traceId: string; spanId: string }) => `${r.traceId}/${r.spanId}`;
    for (const row of rows) if (!this.billed.has(key(row)) && !this.duplicates.has(key(row))) this.billed.set(key(row), row);
    if (changes === null) return;
    for (const row of changes.duplicates) if (!this.billed.has(key(row)) && !this.duplicates.has(key(row))) this.duplicates.set(key(row), row);
    for (const move of changes.moves) {
      const k = key(move);
      const from = move.toDuplicate ? this.billed : this.duplicates;
      const to = move.toDuplicate ? this.duplicates : this.billed;
      const row = from.get(k);
      if (row === undefined) continue;
      from.delete(k);
      to.set(k, row);
    }
    for (const u of changes.ownerUpdates) {
      const row = this.billed.get(key(u));
      if (row === undefined) continue;
      this.billed.set(key(u), {
        ...row,
        teamId: u.teamId,
        costCenter: u.costCenter,
        projectId: u.projectId,
        environment: u.environment,
        attributionSource: u.attributionSource,
        attributionStatus: u.attributionStatus,
        exceptions: u.exceptions,
      });
    }
  }
}

/** Every span's parent and route-ish attributes, to find the request a call served. */
class RouteIndex {
  private readonly spans = new Map<string, { parent: string; route: string | null }>();

  index(request: TraceRequest): void {
    for (const rs of request.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          const route = textOf(findAttribute(span.attributes, 'http.route')) ?? (span.kind === 2 /* SERVER */ ? span.name : null);
          this.spans.set(`${span.traceId}/${span.spanId}`, { parent: span.parentSpanId, route });
        }
      }
    }
  }

  routeOf(traceId: string, parentSpanId: string | null): string | null {
    let id = parentSpanId ?? '';
    for (let hops = 0; id !== '' && hops < 1000; hops++) {
      const span = this.spans.get(`${traceId}/${id}`);
      if (span === undefined) return null;
      if (span.route !== null) return span.route;
      id = span.parent;
    }
    return null;
  }
}

const textOf = (v: AnyValue | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);
