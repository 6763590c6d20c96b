/**
 * `node dist/bench/extract-genai-bench.js`: time of extractGenAiCall per span, by span kind, printed as a
 * table. Non-GenAI spans must stay cheap (rejected by the key prefix scan, no allocation); GenAI spans pay
 * for reading every convention.
 *
 * Environment: BENCH_ITERATIONS (default 200000), EXTRACTOR (path of an alternative extract-genai-call.js
 * to compare, e.g. a build of an older commit).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { AnyValue, Span } from '../core/otlp.js';
import { keyValues, testSpan } from '../core/testing/test-span.js';
import { extractGenAiCall as current } from '../processors/genai/extract-genai-call.js';

const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 200_000);

function span(attributes: Record<string, AnyValue>): Span {
  return testSpan({ name: 'span', startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: keyValues(attributes) });
}

const CASES: [string, Span][] = [
  [
    'HTTP server span (12 attrs)',
    span({
      'http.request.method': 'POST', 'http.route': '/chat', 'url.path': '/chat', 'url.scheme': 'https',
      'server.address': 'api.example.com', 'server.port': 443, 'http.response.status_code': 200,
      'network.protocol.version': '1.1', 'user_agent.original': 'curl/8', 'client.address': '10.0.0.1',
      'http.request.body.size': 1234, 'http.response.body.size': 99,
    }),
  ],
  [
    'DB span (6 attrs)',
    span({ 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.operation.name': 'SELECT',
      'db.query.text': 'select 1', 'server.address': 'db', 'server.port': 5432 }),
  ],
  [
    'OTel GenAI chat',
    span({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.cache_read.input_tokens': 200, 'gen_ai.usage.output_tokens': 500, 'server.address': 'api.openai.com' }),
  ],
  [
    'AI SDK doGenerate (Anthropic)',
    span({ 'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.provider': 'anthropic.messages',
      'ai.model.id': 'claude-sonnet-4-20250514', 'ai.usage.inputTokens': 3000, 'ai.usage.cachedInputTokens': 1000,
      'ai.usage.outputTokens': 200, 'ai.telemetry.metadata.teamId': 'search', 'gen_ai.system': 'anthropic.messages' }),
  ],
  [
    'OpenInference LLM + metadata JSON',
    span({ 'openinference.span.kind': 'LLM', 'llm.provider': 'openai', 'llm.model_name': 'gpt-4o',
      'llm.token_count.prompt': 1000, 'llm.token_count.completion': 100,
      metadata: '{"team_id": "growth", "project_id": "checkout"}' }),
  ],
];

type Extract = (s: Span) => unknown;

function time(extract: Extract, s: Span): number {
  for (let i = 0; i < 10_000; i++) extract(s); // warm-up
  const start = performance.now();
  let sink = 0;
  for (let i = 0; i < ITERATIONS; i++) if (extract(s) !== null) sink++;
  const ns = ((performance.now() - start) * 1e6) / ITERATIONS;
  if (sink < 0) console.log(sink);
  return ns;
}

const other = process.env['EXTRACTOR'];
const alternative: Extract | undefined = other
  ? ((await import(pathToFileURL(other).href)) as { extractGenAiCall: Extract }).extractGenAiCall
  : undefined;

const rows = CASES.map(([name, s]) => ({
  span: name,
  'ns/span (this build)': time(current, s).toFixed(0),
  ...(alternative ? { 'ns/span (EXTRACTOR)': time(alternative, s).toFixed(0) } : {}),
}));
console.table(rows);
