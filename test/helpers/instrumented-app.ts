import { context, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';

export interface InstrumentedApp {
  provider: TracerProvider;
  /** Sends every finished span to the ledger and waits for the answer. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The OpenTelemetry side of an instrumented application: a real TracerProvider, registered globally with
 * an AsyncLocalStorage context manager (so parent/child spans nest across awaits, as in a real Node app),
 * exporting over real OTLP/HTTP protobuf to a running genai-ledger.
 */
export function startInstrumentedApp(
  ledgerHttpUrl: string,
  resource: Attributes,
  /** Processors run before the exporting one (e.g. a BaggageSpanProcessor). */
  processors: SpanProcessor[] = [],
): InstrumentedApp {
  const exporter = new OTLPTraceExporter({ url: `${ledgerHttpUrl}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [...processors, new SimpleSpanProcessor({ exporter })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    provider,
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
