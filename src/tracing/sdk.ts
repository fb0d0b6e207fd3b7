import type { Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";

// Imported only when tracing is on (app.ts loads server/trace.ts, which loads this, with a dynamic import):
// a gateway without an OTLP endpoint never loads the SDK.

export interface TracerSetup {
  readonly tracer: Tracer;
  readonly propagator: W3CTraceContextPropagator;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

export interface TracerOptions {
  env: NodeJS.ProcessEnv;
  /** Instead of the OTLP exporter behind a batch processor (tests pass an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

/**
 * A tracer provider of its own, not registered as the global one: spans are parented explicitly, so no
 * context manager (AsyncLocalStorage) runs on the request path. The SDK reads the OTEL_* variables it knows
 * (sampler, limits, OTEL_BSP_*, exporter headers and timeout); service.name defaults to "tollgate".
 */
export function openTracer(options: TracerOptions): TracerSetup {
  const processors = options.spanProcessors ?? [
    new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(options.env) })),
  ];
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": "tollgate" }))
    .merge(detectResources({ detectors: [envDetector] })); // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  return {
    tracer: provider.getTracer("tollgate"),
    propagator: new W3CTraceContextPropagator(),
    shutdown: () => provider.shutdown(),
  };
}

/** The OTLP/HTTP traces URL as the exporter specification derives it (read from `env`, which tests replace). */
function tracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined;
}
