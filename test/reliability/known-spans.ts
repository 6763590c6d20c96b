import { randomBytes } from 'node:crypto';
import type { KeyValue, Span, TraceRequest } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';

/**
 * GenAI spans whose ids and token counts the test knows in advance, so the ledger can be checked span by
 * span: every id is unique within a run (a random run prefix plus a counter), and `input_tokens` is derived
 * from the counter, so a row that was mangled on the way in is caught, not just a row that is missing.
 */
export interface KnownSpan {
  traceId: string;
  spanId: string;
  inputTokens: number;
}

export class KnownSpanSource {
  private readonly prefix = randomBytes(8).toString('hex');
  private next = 1;

  /** `n` fresh spans, never handed out before by this source. */
  take(n: number): KnownSpan[] {
    const out: KnownSpan[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.next++;
      out.push({
        traceId: this.prefix + k.toString(16).padStart(16, '0'),
        // The span id's first byte is non-zero, so it is never the invalid all-zero id.
        spanId: `a${k.toString(16).padStart(15, '0')}`,
        inputTokens: 100 + (k % 5000),
      });
    }
    return out;
  }
}

export const spanKey = (s: { traceId: string; spanId: string }): string => `${s.traceId}/${s.spanId}`;

const kv = (key: string, value: KeyValue['value']): KeyValue => ({ key, value });

/** One OTLP request carrying the known spans as OpenAI chat calls of one service. */
export function knownSpanRequest(spans: readonly KnownSpan[], service = 'kill9-svc'): TraceRequest {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', service)], droppedAttributesCount: 0 },
        scopeSpans: [
          {
            scope: { name: 'reliability-test', version: '1', attributes: [], droppedAttributesCount: 0 },
            spans: spans.map((s): Span =>
              testSpan({
                traceId: s.traceId,
                spanId: s.spanId,
                name: 'chat gpt-4o-mini',
                startTimeUnixNano: now,
                endTimeUnixNano: now + 500_000_000n,
                attributes: [
                  kv('gen_ai.operation.name', 'chat'),
                  kv('gen_ai.provider.name', 'openai'),
                  kv('gen_ai.request.model', 'gpt-4o-mini'),
                  kv('gen_ai.usage.input_tokens', s.inputTokens),
                  kv('gen_ai.usage.output_tokens', 10),
                  kv('team_id', 'reliability'),
                ],
              }),
            ),
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  };
}
