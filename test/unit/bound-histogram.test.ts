import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BoundHistogram } from "../../src/metrics/histogram.js";

const lines = (text: string, name: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${name}_`))
    .map((l) => l.slice(name.length).replace(/le="([^"]+)",a="1"/, 'a="1",le="$1"'));

describe("BoundHistogram", () => {
  it("writes what a prom-client histogram writes for the same observations, edges included", async () => {
    const registry = new Registry();
    const buckets = [0.01, 0.02, 0.04, 1];
    const reference = new Histogram({ name: "ref", help: "h", labelNames: ["a"], buckets, registers: [registry] });
    const bound = new BoundHistogram("fast", "h", buckets, registry).bind({ a: "1" });
    for (const v of [0, 0.01, 0.015, 0.02, 0.5, 1, 2, 100]) {
      reference.labels({ a: "1" }).observe(v);
      bound.observe(v);
    }
    const text = await registry.metrics();
    expect(text).toContain("# TYPE fast histogram");
    expect(lines(text, "fast")).toEqual(lines(text, "ref"));
    expect(text).toContain('fast_bucket{a="1",le="0.01"} 2');
  });

  it("leaves out series never observed, and empties on reset", async () => {
    const registry = new Registry();
    const histogram = new BoundHistogram("h", "h", [1], registry);
    histogram.bind({ a: "idle" });
    histogram.bind({ a: "1" }).observe(3);
    expect(await registry.metrics()).not.toContain("idle");
    expect(await registry.metrics()).toContain('h_count{a="1"} 1');
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('h_count{a="1"}');
  });
});
