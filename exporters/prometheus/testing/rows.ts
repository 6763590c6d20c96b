import type { LedgerRow } from '../../../core/ledger-row.js';
import { sampleLedgerRow } from '../../duckdb/testing/sample-rows.js';

/** A priced, attributed ledger row for metric tests: `fields` over the values the metric tests count on. */
export function ledgerRow(fields: Partial<LedgerRow> = {}): LedgerRow {
  return sampleLedgerRow({
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_001_000_000_000n,
    parentSpanId: null,
    model: 'gpt-4o-mini',
    responseModel: 'gpt-4o-mini',
    teamId: 'search',
    costCenter: 'CC-1001',
    projectId: 'ranking',
    inputTokens: 1000,
    totalTokens: 1300,
    requestCostPicoUsd: 1_234_567_890n,
    inputCostPicoUsd: null,
    cachedInputCostPicoUsd: null,
    cacheWriteCostPicoUsd: null,
    outputCostPicoUsd: null,
    status: 'unset',
    instrumentationScope: null,
    ...fields,
  });
}
