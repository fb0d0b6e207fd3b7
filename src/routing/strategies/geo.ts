import type { RandomSource, RouteCandidate, RouteChoice, RoutingStrategy, StrategyRequest } from "./types.js";

/**
 * - strict: only deployments in the region; none left means an empty primary set, so the caller fails clearly
 *   instead of sending data out of the region.
 * - prefer: local deployments first, remote ones as fallback; when too few local ones are healthy, part of the
 *   traffic overflows to remote ones (see GeoOptions.overflowBelow).
 */
export type GeoPolicy = "strict" | "prefer";

export interface GeoOptions {
  /** Local deployments configured, healthy or not (candidates hold only healthy ones). Default: the local candidates, i.e. all healthy. */
  readonly localTotal?: number;
  /**
   * Envoy's locality overprovisioning: local keeps all traffic while healthy/total >= overflowBelow; below it, the
   * local share is (healthy/total) / overflowBelow and the rest spills to remote. 0.71 = Envoy's factor 1.4.
   */
  readonly overflowBelow?: number;
}

export interface GeoSplit {
  /** The set to choose among for this request; empty under strict when the region has no deployment. */
  readonly primary: RouteCandidate[];
  /** Tried after the primary set fails (the other side of the local/remote split under prefer). */
  readonly fallback: RouteCandidate[];
  /** A few words for the route header. */
  readonly note: string;
}

const DEFAULT_OVERFLOW_BELOW = 1 / 1.4;

/** Splits candidates by region. No region on the request means no constraint: everything is primary. */
export function geoFilter(
  candidates: readonly RouteCandidate[],
  region: string | undefined,
  policy: GeoPolicy,
  options: GeoOptions = {},
  random: RandomSource = Math.random,
): GeoSplit {
  if (region === undefined) return { primary: candidates.slice(), fallback: [], note: "any region" };
  const local: RouteCandidate[] = [];
  const remote: RouteCandidate[] = [];
  for (const candidate of candidates) (candidate.region === region ? local : remote).push(candidate);
  if (policy === "strict") {
    return { primary: local, fallback: [], note: local.length > 0 ? `in ${region}` : `no deployment in ${region}` };
  }
  if (local.length === 0) return { primary: remote, fallback: [], note: `none in ${region}, remote` };
  const total = Math.max(options.localTotal ?? local.length, local.length);
  const healthy = local.length / total;
  const localShare = Math.min(1, healthy / (options.overflowBelow ?? DEFAULT_OVERFLOW_BELOW));
  if (remote.length === 0 || localShare >= 1 || random() < localShare) {
    return { primary: local, fallback: remote, note: `local ${region}` };
  }
  return { primary: remote, fallback: local, note: `overflow from ${region} (${local.length}/${total} healthy)` };
}

/** A strategy restricted or biased by the request's region: geoFilter, then `inner` orders each side. */
export function geoStrategy(inner: RoutingStrategy, policy: GeoPolicy, options: GeoOptions = {}): RoutingStrategy {
  return {
    name: `geo-${policy}+${inner.name}`,
    choose(candidates: readonly RouteCandidate[], request: StrategyRequest, random: RandomSource = Math.random) {
      const split = geoFilter(candidates, request.region, policy, options, random);
      if (split.primary.length === 0) return { ordered: [], reason: split.note } satisfies RouteChoice;
      const choice = inner.choose(split.primary, request, random);
      const ordered =
        split.fallback.length === 0
          ? choice.ordered
          : choice.ordered.concat(inner.choose(split.fallback, request, random).ordered);
      return { ordered, reason: `${split.note}; ${choice.reason}` };
    },
  };
}
