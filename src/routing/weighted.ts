export interface WeightedPicker<T> {
  readonly items: readonly T[];
  pick(random?: number): T;
}

/** Cumulative weights computed once; a pick is one random number and a short scan. Undefined when nothing has weight. */
export function weightedPicker<T>(items: readonly T[], weightOf: (item: T) => number): WeightedPicker<T> | undefined {
  const positive = items.filter((item) => weightOf(item) > 0);
  if (positive.length === 0) return undefined;
  const cumulative = new Float64Array(positive.length);
  let total = 0;
  positive.forEach((item, i) => {
    total += weightOf(item);
    cumulative[i] = total;
  });
  const only = positive.length === 1 ? positive[0] : undefined;
  return {
    items: positive,
    pick(random = Math.random()) {
      if (only !== undefined) return only;
      const target = random * total;
      for (let i = 0; i < cumulative.length; i++) if (target < (cumulative[i] as number)) return positive[i] as T;
      return positive[positive.length - 1] as T;
    },
  };
}
