import { z } from "zod";

export const SPEND_LABELS = ["org", "team", "key"] as const;

export const MetricsConfigSchema = z
  .object({
    spend_labels: z
      .array(z.enum(SPEND_LABELS))
      .default([...SPEND_LABELS])
      .describe(
        'Who tollgate_spend_usd_total is broken down by, beside alias and provider: ["org", "team"] drops the key label where keys are many. The end user (the request\'s `user`) is never a label.',
      ),
    max_spend_series: z
      .number()
      .int()
      .positive()
      .default(1000)
      .describe(
        'Distinct identity label sets (as spend_labels keeps them) tollgate_spend_usd_total holds; spend of identities seen after that is counted with those labels "other", so a flood of keys cannot grow the scrape without bound.',
      ),
  })
  .strict();

export type MetricsConfig = z.infer<typeof MetricsConfigSchema>;
