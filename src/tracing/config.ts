import { z } from "zod";

export const TracingConfigSchema = z
  .object({
    capture_content: z
      .boolean()
      .default(false)
      .describe(
        "Record prompts and answers on the upstream spans (gen_ai.input.messages, gen_ai.output.messages). Off: spans carry no content. OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true turns it on too. Tracing itself is on when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the other OTEL_* variables (service name, headers, sampler, batch sizes) apply.",
      ),
  })
  .strict();

export type TracingConfig = z.infer<typeof TracingConfigSchema>;

/** Tracing is on when an OTLP endpoint is set and the SDK is not disabled (the standard OTEL_* switches). */
export function tracingEnabled(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.toLowerCase() === "none") return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** Content capture: the config, or the environment variable GenAI instrumentations share. */
export function captureContent(config: TracingConfig, env: NodeJS.ProcessEnv): boolean {
  return config.capture_content || env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.toLowerCase() === "true";
}
