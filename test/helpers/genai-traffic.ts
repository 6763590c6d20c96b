import { SpanKind, context, trace, type Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';

export interface EmittedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  startUs: bigint;
  name: string;
}

/**
 * Creates spans with the real OpenTelemetry SDK (ids, timestamps and encoding are the SDK's own) and
 * keeps them in memory, so a test can export the same spans through any exporter and know exactly
 * which rows must appear.
 */
export function recordSpans(
  resource: Attributes,
  build: (tracer: ReturnType<TracerProvider['getTracer']>) => void,
): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  build(provider.getTracer('genai-ledger-test', '1.0.0'));
  const spans = memory.getFinishedSpans();
  void provider.shutdown();
  return [...spans];
}

/** An HTTP server span with one GenAI client span under it (the usual shape of an instrumented app). */
export function emitGenAiCall(
  tracer: ReturnType<TracerProvider['getTracer']>,
  genAiAttributes: Attributes,
  options: { route?: string; startTime?: Date } = {},
): void {
  const start = options.startTime ?? new Date();
  const server = tracer.startSpan(options.route ?? 'POST /chat', { kind: SpanKind.SERVER, startTime: start });
  const ctx = trace.setSpan(context.active(), server);
  const name = `${String(genAiAttributes['gen_ai.operation.name'] ?? 'chat')} ${String(genAiAttributes['gen_ai.request.model'] ?? '')}`;
  const llm = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: genAiAttributes, startTime: start }, ctx);
  llm.end(new Date(start.getTime() + 1234));
  server.end(new Date(start.getTime() + 1500));
}

/** Exports spans through a real exporter and reports whether the server acknowledged them. */
export function exportSpans(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

export function isSuccess(result: ExportResult): boolean {
  return result.code === ExportResultCode.SUCCESS;
}

export function describeSpan(span: ReadableSpan): EmittedSpan {
  const [sec, nano] = span.startTime;
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    startUs: BigInt(sec) * 1_000_000n + BigInt(Math.floor(nano / 1000)),
    name: span.name,
  };
}
