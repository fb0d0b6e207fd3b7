import type { RateLimitsConfig } from "../../config/schema.js";
import type { RateLimit, RateLimits } from "../../ratelimit/index.js";
import type { AdmissionCheck } from "./admit.js";

type Limit = RateLimitsConfig["aliases"][string];

const asLimit = (l: Limit | undefined): RateLimit | undefined =>
  l && { rpm: l.rpm, tpm: l.tpm, burstRequests: l.burst_requests, burstTokens: l.burst_tokens };

/**
 * rpm and tpm per key, team and alias. Runs after predict: token limits are charged the predicted tokens at
 * admission, and corrected by the actual usage when the request is over.
 */
export function rateLimitCheck(limits: RateLimits, config: RateLimitsConfig): AdmissionCheck {
  const teams = new Map(Object.entries(config.teams).map(([id, l]) => [id, asLimit(l)]));
  const aliases = new Map(Object.entries(config.aliases).map(([id, l]) => [id, asLimit(l)]));
  return {
    name: "rateLimit",
    take: async (ctx) => {
      const key = ctx.key;
      if (key === undefined) return undefined; // open mode: no key, no per-key limits
      const alias = aliases.get(ctx.alias);
      const team = teams.get(key.teamId);
      const keyLimit = key.rpm || key.tpm ? { rpm: key.rpm ?? undefined, tpm: key.tpm ?? undefined } : undefined;
      if (!keyLimit && !team && !alias) return undefined;
      const predicted = ctx.estimate ? ctx.estimate.promptTokens + ctx.estimate.completionTokens : 0;
      const admission = await limits.admit({
        keyId: key.id,
        teamId: key.teamId,
        alias: ctx.alias,
        limits: { key: keyLimit, team, alias },
        predictedTokens: predicted,
      });
      return {
        keep: (kept) => {
          for (const [name, value] of Object.entries(admission.headers)) kept.setHeader(name, value);
          kept.afterUsage((c) => {
            const actual = c.usage ? c.usage.prompt_tokens + (c.usage.completion_tokens ?? 0) : 0;
            if (actual !== predicted) void limits.correct(admission, actual - predicted).catch(() => {});
          });
        },
        giveBack: () => limits.release(admission),
      };
    },
  };
}
