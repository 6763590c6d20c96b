import type { KeyValue } from '../../core/otlp.js';
import type { AttributionSource, ExceptionReason } from '../../core/ledger-row.js';
import type { OwnershipHints } from '../genai/extract-genai-call.js';
import { attributeText } from '../genai/attribute-text.js';
import type { MappingTables } from './mapping-tables.js';

/** Who owns one GenAI call. Unknown values stay null — never guessed. */
export interface Ownership {
  teamId: string | null;
  costCenter: string | null;
  projectId: string | null;
  service: string | null;
  environment: string | null;
  /** Which source supplied teamId (null when no team was found). */
  attributionSource: AttributionSource | null;
  /** Only `missing_team` or `missing_cost_center` here; the pipeline adds token/pricing reasons. */
  exceptions: ExceptionReason[];
}

/** The part of ownership that depends only on the resource: computed once per ResourceSpans. */
export interface ResourceOwnership {
  teamId: string | null;
  projectId: string | null;
  /** `service.name`; the SDK default `unknown_service[:process]` is kept as a real value. */
  service: string | null;
  /**
   * `service.name` is the SDK default (`unknown_service`, `unknown_service:node`): the app never named
   * itself, so the services mapping can only match if FinOps mapped that exact default. Kept for exception
   * reports ("set OTEL_SERVICE_NAME").
   */
  serviceIsSdkDefault: boolean;
  environment: string | null;
}

/**
 * Resource attributes read for ownership, in priority order per field (first non-empty wins). One table,
 * so adding a convention is adding a key.
 */
export const RESOURCE_OWNERSHIP_KEYS = {
  teamId: ['team_id', 'team.id', 'app.team_id', 'app.team.id', 'service.team', 'service.team_id'],
  projectId: ['project_id', 'project.id', 'app.project_id', 'app.project.id', 'service.project'],
  service: ['service.name'],
  environment: ['deployment.environment.name', 'deployment.environment'],
} as const satisfies Record<string, readonly string[]>;

type ResourceField = keyof typeof RESOURCE_OWNERSHIP_KEYS;

const SDK_DEFAULT_SERVICE = /^unknown_service(?::|$)/;

/** True for the OTel SDK's fallback `service.name` (`unknown_service`, `unknown_service:<process>`). */
export function isSdkDefaultServiceName(service: string): boolean {
  return SDK_DEFAULT_SERVICE.test(service);
}

function readResourceField(attributes: readonly KeyValue[], field: ResourceField): string | null {
  for (const key of RESOURCE_OWNERSHIP_KEYS[field]) {
    // Linear scans: resource attribute lists are short and this runs once per resource, not per span.
    for (const kv of attributes) {
      if (kv.key !== key) continue;
      const text = attributeText(kv.value);
      if (text !== null) return text;
      break; // first occurrence of a key wins, as in findAttribute
    }
  }
  return null;
}

/**
 * Resolves ownership of GenAI calls. For team_id the first hit wins and is recorded as the source:
 * 1. the GenAI span's own attributes (`hints`, source `span`);
 * 2. the resource attributes (source `resource`);
 * 3. the services mapping, by service name (source `service_mapping`).
 * (Ancestor spans — source `ancestor` — are resolved before this, by the trace-level pass.)
 * project_id and environment follow the same order (services mapping: project_id only); service is the
 * span's hint, else the resource's `service.name`.
 *
 * cost_center comes ONLY from the teams table, even when a span carries its own cost center attribute:
 * FinOps owns the team → cost center mapping and chargeback must follow their books, not whatever an app
 * was configured with. A span's cost center stays available in the hints for exception reports.
 * No team → `missing_team` (cost center is then necessarily unknown too; only the root cause is listed).
 * A team without a row in the teams table (or no table) → cost center null and `missing_cost_center`.
 */
export class Attributor {
  private readonly costCenterByTeam: ReadonlyMap<string, string>;
  private readonly serviceMapping: MappingTables['services'];

  constructor(tables: MappingTables) {
    // Flattened once: the per-call lookup is a single Map.get.
    const costCenters = new Map<string, string>();
    if (tables.teams !== null) for (const [teamId, team] of tables.teams) costCenters.set(teamId, team.costCenter);
    this.costCenterByTeam = costCenters;
    this.serviceMapping = tables.services;
  }

  /** The resource-level part of resolution; compute once per ResourceSpans and pass to {@link attribute}. */
  resolveResource(resourceAttributes: readonly KeyValue[]): ResourceOwnership {
    const service = readResourceField(resourceAttributes, 'service');
    return {
      teamId: readResourceField(resourceAttributes, 'teamId'),
      projectId: readResourceField(resourceAttributes, 'projectId'),
      service,
      serviceIsSdkDefault: service !== null && isSdkDefaultServiceName(service),
      environment: readResourceField(resourceAttributes, 'environment'),
    };
  }

  /**
   * Ownership of one GenAI call. `resource` is either the resource attributes or (on the hot path) their
   * {@link resolveResource} result; `hints` come from extractGenAiCall. `hintSource` names where a team in
   * `hints` came from: the span itself, or (merged in by the trace-level pass) its nearest ancestor.
   */
  attribute(
    resource: readonly KeyValue[] | ResourceOwnership,
    hints: OwnershipHints,
    hintSource: 'span' | 'ancestor' = 'span',
  ): Ownership {
    const res = isAttributeList(resource) ? this.resolveResource(resource) : resource;
    const service = hints.service ?? res.service;
    const mapped = service === null ? undefined : this.serviceMapping?.get(service);

    let teamId: string | null = null;
    let attributionSource: AttributionSource | null = null;
    if (hints.teamId !== null) {
      teamId = hints.teamId;
      attributionSource = hintSource;
    } else if (res.teamId !== null) {
      teamId = res.teamId;
      attributionSource = 'resource';
    } else if (mapped !== undefined) {
      teamId = mapped.teamId;
      attributionSource = 'service_mapping';
    }

    const costCenter = teamId === null ? null : (this.costCenterByTeam.get(teamId) ?? null);
    const exceptions: ExceptionReason[] = [];
    if (teamId === null) exceptions.push('missing_team');
    else if (costCenter === null) exceptions.push('missing_cost_center');

    return {
      teamId,
      costCenter,
      projectId: hints.projectId ?? res.projectId ?? mapped?.projectId ?? null,
      service,
      environment: hints.environment ?? res.environment,
      attributionSource,
      exceptions,
    };
  }
}

function isAttributeList(value: readonly KeyValue[] | ResourceOwnership): value is readonly KeyValue[] {
  return Array.isArray(value);
}
