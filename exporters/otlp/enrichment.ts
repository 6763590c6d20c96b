/**
 * What the ledger adds to a forwarded GenAI span: its decision about the call, as span attributes. The
 * attribute names and types are a contract with users' dashboards and queries in their tracing backend
 * (docs/forwarding.md): add new ones, never rename or retype these.
 */
export interface SpanEnrichment {
  /** The call's cost in USD; null when the model has no price (the attribute is then absent, never 0). */
  costUsd: number | null;
  teamId: string | null;
  costCenter: string | null;
  projectId: string | null;
  /** `attributed`, or why not (`missing_team`, `unpriced_model`, …), as in the ledger. */
  attributionStatus: string;
  /** False for a duplicate of a call already counted (a retried export, usage repeated on a parent span). */
  billed: boolean;
  /** Id of the exact price data used (`unit_price_snapshot` in the ledger). */
  priceSnapshot: string | null;
}

export const ENRICHMENT_ATTRIBUTE = {
  costUsd: 'genai_ledger.cost_usd',
  teamId: 'genai_ledger.team_id',
  costCenter: 'genai_ledger.cost_center',
  projectId: 'genai_ledger.project_id',
  attributionStatus: 'genai_ledger.attribution_status',
  billed: 'genai_ledger.billed',
  priceSnapshot: 'genai_ledger.price_snapshot',
} as const;

/**
 * An attribute with an explicit OTLP type. The model's AnyValue cannot say "double" for an integral number
 * (a cost of exactly $2 would go out as int_value), and the contract says cost_usd is always a double.
 */
export type TypedAttribute =
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'double'; value: number }
  | { key: string; type: 'bool'; value: boolean };

/** The enrichment attributes of a span, in contract order; null fields are left out. */
export function enrichmentAttributes(e: SpanEnrichment): TypedAttribute[] {
  const out: TypedAttribute[] = [];
  if (e.costUsd !== null) out.push({ key: ENRICHMENT_ATTRIBUTE.costUsd, type: 'double', value: e.costUsd });
  if (e.teamId !== null) out.push({ key: ENRICHMENT_ATTRIBUTE.teamId, type: 'string', value: e.teamId });
  if (e.costCenter !== null) out.push({ key: ENRICHMENT_ATTRIBUTE.costCenter, type: 'string', value: e.costCenter });
  if (e.projectId !== null) out.push({ key: ENRICHMENT_ATTRIBUTE.projectId, type: 'string', value: e.projectId });
  out.push({ key: ENRICHMENT_ATTRIBUTE.attributionStatus, type: 'string', value: e.attributionStatus });
  out.push({ key: ENRICHMENT_ATTRIBUTE.billed, type: 'bool', value: e.billed });
  if (e.priceSnapshot !== null) out.push({ key: ENRICHMENT_ATTRIBUTE.priceSnapshot, type: 'string', value: e.priceSnapshot });
  return out;
}
