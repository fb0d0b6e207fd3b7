import { describe, expect, it } from "vitest";
import {
  AdaptiveBandit,
  costStrategy,
  geoFilter,
  geoStrategy,
  LatencyTracker,
  latencyStrategy,
  MODES,
  mulberry32,
  PeakEwma,
  qualityStrategy,
  type RouteCandidate,
  type RoutingStrategy,
  weightedStrategy,
} from "../../src/routing/strategies/index.js";

function candidate(id: string, fields: Partial<Omit<RouteCandidate, "id">> = {}): RouteCandidate {
  return { id, weight: 1, region: undefined, costUsd: undefined, quality: undefined, ...fields };
}

function ids(candidates: readonly RouteCandidate[]): string[] {
  return candidates.map((c) => c.id);
}

/** Share of `draws` picks (ordered[0]) per id. */
function pickShares(strategy: RoutingStrategy, candidates: RouteCandidate[], draws: number, seed = 1) {
  const random = mulberry32(seed);
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const id = strategy.choose(candidates, {}, random).ordered[0]?.id ?? "none";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return (id: string) => (counts.get(id) ?? 0) / draws;
}

describe("peak EWMA", () => {
  it("jumps to a latency spike at once and decays back toward normal samples with tau = 10 s", () => {
    let now = 0;
    const ewma = new PeakEwma(() => now);
    ewma.observe(100);
    now = 1_000;
    ewma.observe(1_000);
    expect(ewma.estimateMs()).toBe(1_000); // the peak, not an average
    now += 10_000; // one tau later a normal sample keeps exp(-1) of the old estimate
    ewma.observe(100);
    expect(ewma.estimateMs()).toBeCloseTo(1_000 * Math.exp(-1) + 100 * (1 - Math.exp(-1)), 6);
    now += 50_000;
    ewma.observe(100);
    expect(ewma.estimateMs()).toBeLessThan(105);
  });

  it("decays toward zero while idle, but not while calls are in flight", () => {
    let now = 0;
    const ewma = new PeakEwma(() => now);
    ewma.observe(2_000);
    now = 10_000;
    expect(ewma.estimateMs()).toBeCloseTo(2_000 * Math.exp(-1), 6);
    ewma.start();
    expect(ewma.estimateMs()).toBe(2_000);
  });

  it("records a fast failure as a penalty, so a fast-failing deployment scores worse than a slow healthy one", () => {
    const now = 0;
    const tracker = new LatencyTracker({ clock: () => now });
    tracker.end("slow-but-healthy", 3_000, true);
    tracker.end("fast-failing", 40, true);
    expect(tracker.score("fast-failing")).toBeLessThan(tracker.score("slow-but-healthy"));
    tracker.end("fast-failing", 30, false); // a 429 in 30 ms
    expect(tracker.score("fast-failing")).toBeGreaterThan(tracker.score("slow-but-healthy"));
    const afterOne = tracker.score("fast-failing");
    tracker.end("fast-failing", 30, false);
    expect(tracker.score("fast-failing")).toBe(afterOne * 2); // repeated failures escalate
  });

  it("multiplies the score by the calls in flight plus one", () => {
    const tracker = new LatencyTracker({ clock: () => 0 });
    tracker.end("a", 200, true);
    expect(tracker.score("a")).toBe(200);
    for (let i = 0; i < 3; i++) tracker.start("a");
    expect(tracker.score("a")).toBe(800);
    expect(tracker.snapshot()).toEqual([{ id: "a", ewmaMs: 200, inFlight: 3, samples: 1, score: 800 }]);
  });

  it("explores an unmeasured deployment first, then sends it one probe at a time until it answers", () => {
    const tracker = new LatencyTracker({ clock: () => 0, failurePenaltyMs: 5_000 });
    tracker.end("known", 300, true);
    expect(tracker.score("new")).toBe(0);
    tracker.start("new");
    expect(tracker.score("new")).toBe(5_000);
    expect(tracker.score("new")).toBeGreaterThan(tracker.score("known"));
  });
});

describe("latency strategy (power of two choices over peak EWMA)", () => {
  it("sends a deployment 10x slower than the other two under 10% of requests once measured", () => {
    // Virtual time: a request every 50 ms; each holds its deployment for its latency (so in-flight counts matter).
    let now = 0;
    const tracker = new LatencyTracker({ clock: () => now });
    const strategy = latencyStrategy(tracker);
    const latencyOf: Record<string, number> = { fast1: 200, fast2: 200, slow: 2_000 };
    const candidates = [candidate("fast1"), candidate("fast2"), candidate("slow")];
    const random = mulberry32(7);
    const pending: Array<{ at: number; id: string; latency: number }> = [];
    let slowPicks = 0;
    const total = 3_000;
    const warmUp = 100;
    for (let i = 0; i < total; i++) {
      now = i * 50;
      pending.sort((a, b) => a.at - b.at);
      while (pending.length > 0 && (pending[0] as { at: number }).at <= now) {
        const done = pending.shift() as { at: number; id: string; latency: number };
        const at = now;
        now = done.at;
        tracker.end(done.id, done.latency, true);
        now = at;
      }
      const id = strategy.choose(candidates, {}, random).ordered[0]?.id as string;
      if (i >= warmUp && id === "slow") slowPicks++;
      const latency = (latencyOf[id] as number) * (0.8 + 0.4 * random());
      tracker.start(id);
      pending.push({ at: now + latency, id, latency });
    }
    const slowShare = slowPicks / (total - warmUp);
    expect(slowShare).toBeLessThan(0.1);
    expect(slowShare).toBeGreaterThan(0); // still probed now and then, so a recovery would be seen
  });

  it("picks the lower score of the two it compares and orders the fallbacks by score", () => {
    const tracker = new LatencyTracker({ clock: () => 0 });
    tracker.end("a", 100, true);
    tracker.end("b", 300, true);
    const choice = latencyStrategy(tracker).choose([candidate("b"), candidate("a")], {}, mulberry32(3));
    expect(ids(choice.ordered)).toEqual(["a", "b"]);
    expect(choice.reason).toBe("p2c peak-ewma 100ms vs 300ms");
  });
});

describe("weighted strategy", () => {
  it("picks in proportion to weight and orders the fallbacks heaviest first", () => {
    const candidates = [candidate("light", { weight: 1 }), candidate("heavy", { weight: 3 })];
    const share = pickShares(weightedStrategy(), candidates, 20_000);
    expect(share("heavy")).toBeCloseTo(0.75, 1);
    const choice = weightedStrategy().choose([...candidates, candidate("mid", { weight: 2 })], {}, () => 0);
    expect(ids(choice.ordered)).toEqual(["light", "heavy", "mid"]);
  });
});

describe("cost strategy", () => {
  it("picks the cheapest deployment and orders the rest by price", () => {
    const candidates = [
      candidate("premium", { costUsd: 0.003 }),
      candidate("cheap", { costUsd: 0.001 }),
      candidate("mid", { costUsd: 0.002 }),
    ];
    const choice = costStrategy().choose(candidates, {}, mulberry32(1));
    expect(ids(choice.ordered)).toEqual(["cheap", "mid", "premium"]);
    expect(choice.reason).toBe("cheapest $0.001");
  });

  it("spreads near-equal prices by inverse-square weights and never picks one outside the margin", () => {
    const candidates = [
      candidate("a", { costUsd: 0.001 }),
      candidate("b", { costUsd: 0.0014 }),
      candidate("c", { costUsd: 0.0016 }), // 60% above the cheapest: outside the 50% margin
    ];
    const share = pickShares(costStrategy({ margin: 0.5 }), candidates, 20_000);
    // 1/price² gives a 0.662 of the traffic (1/price would give 0.583, an even split 0.5).
    expect(share("a")).toBeCloseTo(1 / (1 + (0.001 / 0.0014) ** 2), 1);
    expect(share("b")).toBeCloseTo(1 - share("a"), 9);
    expect(share("c")).toBe(0);
  });

  it("puts unpriced deployments last, after every priced one", () => {
    const candidates = [
      candidate("unpriced"),
      candidate("dear", { costUsd: 0.01 }),
      candidate("cheap", { costUsd: 0.001 }),
    ];
    expect(ids(costStrategy().choose(candidates, {}, mulberry32(1)).ordered)).toEqual(["cheap", "dear", "unpriced"]);
  });
});

describe("quality strategy", () => {
  const candidates = [
    candidate("premium", { quality: 0.9, costUsd: 0.01 }),
    candidate("mid", { quality: 0.8, costUsd: 0.004 }),
    candidate("cheap", { quality: 0.7, costUsd: 0.001 }),
  ];

  it("picks the best quality that fits the cost cap", () => {
    expect(ids(qualityStrategy().choose(candidates, {}).ordered)).toEqual(["premium", "mid", "cheap"]);
    const capped = qualityStrategy().choose(candidates, { maxCostUsd: 0.005 });
    expect(ids(capped.ordered)).toEqual(["mid", "cheap", "premium"]);
    expect(capped.reason).toContain("<= cap $0.005");
  });

  it("falls back to the cheapest when the cap is tighter than every price, and says so", () => {
    const choice = qualityStrategy().choose(candidates, { maxCostUsd: 0.0005 });
    expect(ids(choice.ordered)).toEqual(["cheap", "mid", "premium"]);
    expect(choice.reason).toBe("none under cap $0.0005: cheapest $0.001");
  });

  it("breaks quality ties by cost", () => {
    const tied = [
      candidate("dear", { quality: 0.8, costUsd: 0.002 }),
      candidate("thrifty", { quality: 0.8, costUsd: 0.001 }),
    ];
    expect(ids(qualityStrategy().choose(tied, {}).ordered)).toEqual(["thrifty", "dear"]);
  });
});

describe("geo", () => {
  const candidates = [
    candidate("us-1", { region: "us" }),
    candidate("eu-1", { region: "eu" }),
    candidate("eu-2", { region: "eu" }),
  ];

  it("strict never returns another region, and returns nothing when the region has no deployment", () => {
    const eu = geoFilter(candidates, "eu", "strict");
    expect(ids(eu.primary)).toEqual(["eu-1", "eu-2"]);
    expect(eu.fallback).toEqual([]);
    const ap = geoFilter(candidates, "ap", "strict");
    expect(ap.primary).toEqual([]);
    expect(ap.note).toBe("no deployment in ap");
    const strict = geoStrategy(weightedStrategy(), "strict");
    expect(strict.choose(candidates, { region: "ap" }, mulberry32(1)).ordered).toEqual([]);
    for (let i = 0; i < 100; i++) {
      const ordered = strict.choose(candidates, { region: "eu" }, mulberry32(i)).ordered;
      expect(ordered.every((c) => c.region === "eu")).toBe(true);
    }
  });

  it("prefer keeps local deployments first and remote ones as fallback while the region is healthy", () => {
    const choice = geoStrategy(weightedStrategy(), "prefer").choose(candidates, { region: "eu" }, mulberry32(1));
    expect(ids(choice.ordered).slice(0, 2).sort()).toEqual(["eu-1", "eu-2"]);
    expect(choice.ordered[2]?.id).toBe("us-1");
  });

  it("prefer overflows to remote deployments in proportion to the unhealthy local share", () => {
    // 1 of 4 local deployments healthy: local share = 0.25 / (1 / 1.4) = 0.35, so ~65% spill to the remote one.
    const oneEuHealthy = [candidate("us-1", { region: "us" }), candidate("eu-1", { region: "eu" })];
    const random = mulberry32(5);
    let overflowed = 0;
    for (let i = 0; i < 10_000; i++) {
      const split = geoFilter(oneEuHealthy, "eu", "prefer", { localTotal: 4 }, random);
      if (split.primary[0]?.id === "us-1") {
        overflowed++;
        expect(ids(split.fallback)).toEqual(["eu-1"]);
      }
    }
    expect(overflowed / 10_000).toBeCloseTo(0.65, 1);
    // 3 of 4 healthy is above the 71% threshold: nothing overflows.
    const threeOfFour = geoFilter([...candidates, candidate("eu-3", { region: "eu" })], "eu", "prefer", {
      localTotal: 4,
    });
    expect(ids(threeOfFour.primary)).toEqual(["eu-1", "eu-2", "eu-3"]);
  });
});

describe("adaptive bandit (discounted Thompson sampling)", () => {
  interface Profile {
    success: number;
    latencyMs: number;
    costUsd: number;
  }
  const good: Profile = { success: 0.97, latencyMs: 400, costUsd: 0.001 };
  const poor: Profile = { success: 0.85, latencyMs: 900, costUsd: 0.002 };
  const dear: Profile = { success: 0.9, latencyMs: 600, costUsd: 0.004 };
  const arms = [candidate("a"), candidate("b"), candidate("c")];

  /** Runs `requests` sequential calls; returns the share of the second half that went to `best`. */
  function run(
    bandit: AdaptiveBandit,
    profiles: Record<string, Profile>,
    requests: number,
    best: string,
    seed: number,
  ) {
    const world = mulberry32(seed);
    let hits = 0;
    for (let i = 0; i < requests; i++) {
      const id = bandit.choose(arms, {}).ordered[0]?.id as string;
      const profile = profiles[id] as Profile;
      bandit.observe(id, {
        ok: world() < profile.success,
        latencyMs: profile.latencyMs * (0.7 + 0.6 * world()),
        costUsd: profile.costUsd * (0.5 + world()),
      });
      if (i >= requests / 2 && id === best) hits++;
    }
    return hits / (requests / 2);
  }

  // Mean rewards of good / dear / poor: 0.73 / 0.68 / 0.63. Over 100 seeds the best arm got 83-91% (median 89%)
  // of the last half in both phases; without the discount (gamma 1) the swap phase got 44%.
  it("sends at least 80% of the last half of 500 requests to the best arm, and recovers after the arms swap", () => {
    const bandit = new AdaptiveBandit({ random: mulberry32(1000) });
    expect(run(bandit, { a: good, b: poor, c: dear }, 500, "a", 1)).toBeGreaterThanOrEqual(0.8);
    expect(run(bandit, { a: poor, b: good, c: dear }, 500, "b", 2)).toBeGreaterThanOrEqual(0.8);
  });

  it("reports expected shares that sum to one, led by the best arm", () => {
    const bandit = new AdaptiveBandit({ random: mulberry32(3) });
    run(bandit, { a: dear, b: good, c: poor }, 400, "b", 4);
    const weights = bandit.weights(1_000);
    expect(weights.reduce((sum, w) => sum + w.share, 0)).toBeCloseTo(1, 9);
    expect(weights[0]?.id).toBe("b");
    expect(weights[0]?.share).toBeGreaterThan(0.7);
  });

  it("rewards a success that is faster and cheaper more, and a failure with nothing", () => {
    const bandit = new AdaptiveBandit({ latencyScaleMs: 1_000, costScaleUsd: 0.001 });
    const quickCheap = bandit.reward({ ok: true, latencyMs: 200, costUsd: 0.0002 });
    const slowDear = bandit.reward({ ok: true, latencyMs: 5_000, costUsd: 0.01 });
    expect(quickCheap).toBeGreaterThan(slowDear);
    expect(slowDear).toBeGreaterThanOrEqual(0.5); // any success is worth the success weight (0.5 of 1.0)
    expect(bandit.reward({ ok: false, latencyMs: 20, costUsd: 0 })).toBe(0);
  });
});

describe("modes", () => {
  it("maps each named mode to its strategy", () => {
    expect(MODES).toEqual({
      manual: "weighted",
      adaptive: "adaptive",
      "cost-first": "cost",
      "latency-first": "latency",
    });
  });
});
