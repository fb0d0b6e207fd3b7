import type { NamedStage } from "../compose.js";
import type { RequestContext } from "../context.js";

/** What one admission check took for a request (a rate-limit slot, a budget hold). */
export interface AdmissionHold {
  /** Every check passed: apply it to the request (headers, alerts, settle when the usage is known). */
  keep(ctx: RequestContext): void;
  /** Another check refused the request: give back what was taken. */
  giveBack(): void;
}

/** Takes what the request needs, or throws the client's error (429, 503). undefined: nothing was taken. */
export interface AdmissionCheck {
  readonly name: string;
  take(ctx: RequestContext): Promise<AdmissionHold | undefined>;
}

/**
 * Rate limits and budgets, checked at once, all or nothing. With Redis each check is a round trip; run one after
 * the other they were two, so the stage starts them together and gives back what the others took when one
 * refuses. Of two refusals the client sees the first check's (rate limits come before budgets).
 */
export function admitStage(checks: readonly AdmissionCheck[]): NamedStage {
  return {
    name: "admit",
    run: async (ctx, next) => {
      const settled = await Promise.allSettled(checks.map((check) => check.take(ctx)));
      let refusal: { reason: unknown } | undefined;
      for (const outcome of settled) if (outcome.status === "rejected") refusal ??= { reason: outcome.reason };
      if (refusal !== undefined) {
        for (const outcome of settled) if (outcome.status === "fulfilled") outcome.value?.giveBack();
        throw refusal.reason;
      }
      for (const outcome of settled) if (outcome.status === "fulfilled") outcome.value?.keep(ctx);
      return next();
    },
  };
}
