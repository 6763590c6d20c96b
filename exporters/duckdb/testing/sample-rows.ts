import type { LedgerRow } from '../../../core/ledger-row.js';

/**
 * A complete, valid, attributed and priced ledger row (an OpenAI chat call) for tests. Every field has a
 * distinct non-null value so a test can check that each one lands in its own column.
 */
export function sampleLedgerRow(overrides: Partial<LedgerRow> = {}): LedgerRow {
  return {
    startTimeUnixNano: 1_735_732_800_123_456_789n, // 2025-01-01T12:00:00.123456789Z
    endTimeUnixNano: 1_735_732_801_623_456_789n, // 1.5 s later
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    spanName: 'chat gpt-4o-mini',
    provider: 'openai',
    model: 'gpt-4o-mini-2024-07-18',
    requestModel: 'gpt-4o-mini',
    responseModel: 'gpt-4o-mini-2024-07-18',
    operation: 'chat',
    teamId: 'team-search',
    costCenter: 'CC-1042',
    projectId: 'proj-ranking',
    service: 'search-api',
    environment: 'production',
    attributionSource: 'span',
    inputTokens: 1200,
    cachedInputTokens: 200,
    cacheWriteTokens: 100,
    outputTokens: 300,
    reasoningTokens: 50,
    totalTokens: 1500,
    unitPriceSnapshot: 'genai-prices@0.1.8',
    requestCostPicoUsd: 123_450_000n, // $0.000123450000
    inputCostPicoUsd: 90_000_000n,
    cachedInputCostPicoUsd: 15_000_000n,
    cacheWriteCostPicoUsd: 450_000n,
    outputCostPicoUsd: 18_000_000n,
    attributionStatus: 'attributed',
    exceptions: [],
    status: 'ok',
    instrumentationScope: '@opentelemetry/instrumentation-openai',
    cacheWrite1hTokens: null,
    serviceTier: null,
    reportedCostPicoUsd: null,
    cacheWrite1hCostPicoUsd: null,
    reasoningCostPicoUsd: null,
    inputAudioTokens: null,
    outputAudioTokens: null,
    tokenConvention: 'otel',
    tokenSource: 'otel',
    userId: null,
    responseId: null,
    route: null,
    apiKeyAlias: null,
    ...overrides,
  };
}

/** `count` sample rows with distinct (trace_id, span_id): lowercase hex of the right lengths. */
export function sampleLedgerRows(count: number, overrides: Partial<LedgerRow> = {}, seed = 0): LedgerRow[] {
  const rows: LedgerRow[] = [];
  for (let i = 0; i < count; i++) {
    const n = seed * 1_000_000_000 + i;
    rows.push(
      sampleLedgerRow({
        traceId: n.toString(16).padStart(32, '0'),
        spanId: (n + 1).toString(16).padStart(16, '0'),
        ...overrides,
      }),
    );
  }
  return rows;
}
