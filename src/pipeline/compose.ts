import type { RequestContext } from "./context.js";

/** A stage acts before `await next()` and, if it needs to, after it (settle, store, write usage). */
export type Stage = (ctx: RequestContext, next: () => Promise<void>) => Promise<void>;

export interface NamedStage {
  readonly name: string;
  readonly run: Stage;
}

/** Onion-style composition, as hono's compose: each stage wraps the ones after it. */
export function compose(stages: readonly NamedStage[]): (ctx: RequestContext) => Promise<void> {
  const runs = stages.map((s) => s.run);
  return (ctx) => {
    let last = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= last) return Promise.reject(new Error(`next() called twice in stage ${stages[i - 1]?.name}`));
      last = i;
      const run = runs[i];
      if (run === undefined) return Promise.resolve();
      try {
        return run(ctx, () => dispatch(i + 1));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}
