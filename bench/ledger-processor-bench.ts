/**
 * `node dist/bench/ledger-processor-bench.js`: LedgerProcessor.process alone (no decode, no DuckDB), in
 * spans/s, on W1 (512 GenAI spans per request, each its own trace, no parents) and W2 (5% GenAI). Every
 * request is processed once with fresh trace ids, as the server sees them, so the trace index works at
 * its steady state (full, evicting). Prints the median of BENCH_ROUNDS rounds (default 5).
 */
import { syntheticRequest } from '../test/helpers/synthetic-requests.js';
import { LedgerProcessor } from '../src/pipeline/ledger-processor.js';
import { Attributor } from '../processors/attribution/attributor.js';
import { loadMappingTables } from '../processors/attribution/mapping-tables.js';
import { PriceBook } from '../processors/pricing/price-book.js';
import type { TraceRequest } from '../core/otlp.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 300);

const processor = new LedgerProcessor(new Attributor(await loadMappingTables({})), await PriceBook.loadDefault());

function round(requests: TraceRequest[]): number {
  let spans = 0;
  const start = process.hrtime.bigint();
  for (const request of requests) {
    processor.process(request);
    for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length;
  }
  return spans / (Number(process.hrtime.bigint() - start) / 1e9);
}

const results: Record<string, string>[] = [];
for (const [name, genAiShare] of [['W1 GenAI only', 1], ['W2 5% GenAI', 0.05]] as const) {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const requests = Array.from({ length: REQUESTS }, () => syntheticRequest({ spans: 512, genAiShare }));
    const rate = round(requests);
    if (r > 0) rates.push(rate); // round 0 warms up
  }
  rates.sort((a, b) => a - b);
  results.push({ workload: name, 'process spans/s (median)': Math.round(rates[Math.floor(rates.length / 2)]!).toLocaleString('en-US'), 'min..max': `${Math.round(rates[0]!)}..${Math.round(rates[rates.length - 1]!)}` });
}
console.table(results);
