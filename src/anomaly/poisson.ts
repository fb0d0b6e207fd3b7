// Lanczos coefficients (g = 7, n = 9): ln Γ to ~15 digits, enough for tail probabilities near 1e-6.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LN_2PI = 0.5 * Math.log(2 * Math.PI);
// Past this many terms the tail is near one half: not evidence, so the sum stops there.
const MAX_TERMS = 1000;

/** ln Γ(x) for x >= 0.5. */
export function logGamma(x: number): number {
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return HALF_LN_2PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * P(X >= n) for X ~ Poisson(mean), n rounded up to a whole count. Only small tails are evidence: at or below the mean,
 * or where the sum does not settle within MAX_TERMS (a huge count barely above its mean), it returns 1.
 */
export function poissonUpperTail(n: number, mean: number): number {
  const k = Math.ceil(n);
  if (k <= 0) return 1;
  if (!(mean > 0)) return 0;
  if (k <= mean) return 1;
  // The regularised lower incomplete gamma P(k, mean) as its series: terms fall by mean / (k + j) < 1.
  let term = Math.exp(k * Math.log(mean) - mean - logGamma(k + 1));
  let sum = term;
  for (let j = 1; term > sum * 1e-12; j++) {
    if (j > MAX_TERMS) return 1;
    term *= mean / (k + j);
    sum += term;
  }
  return Math.min(1, sum);
}
