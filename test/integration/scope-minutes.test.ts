import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { firstRecordAt, scopeMinutes, storeSink } from "../../src/usage/index.js";
import { BACKENDS, type Backend, makeBackend, usageRecord } from "./harness.js";

const T = Date.UTC(2026, 10, 25, 12, 0, 0);

describe.each(BACKENDS)("scopeMinutes on %s (what the anomaly watch reads)", (backendName) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = await makeBackend(backendName);
    store = backend.open();
    await store.migrate();
    await storeSink(store).insert([
      usageRecord({ ts: T + 1_000, actualCostUsd: 0.5 }),
      usageRecord({ ts: T + 59_999, actualCostUsd: 0.25 }),
      // A cache hit: a request, not a price.
      usageRecord({ ts: T + 30_000, actualCostUsd: 0 }),
      usageRecord({ ts: T + 60_000, actualCostUsd: 1, keyId: "key-b", teamId: "team-b" }),
      // Refused before auth: no identity at all.
      usageRecord({ ts: T + 61_000, actualCostUsd: 0, keyId: undefined, teamId: undefined, orgId: undefined }),
      usageRecord({ ts: T + 120_000, actualCostUsd: 9 }),
    ]);
  });

  afterAll(async () => {
    await store?.close();
    await backend?.cleanup();
  });

  it("sums requests, priced requests and spend per minute and identity, in [from, to)", async () => {
    const rows = await scopeMinutes(store, T, T + 120_000);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({
      minuteMs: T,
      orgId: "org-a",
      teamId: "team-a",
      keyId: "key-a",
      requests: 3,
      pricedRequests: 2,
      costUsd: 0.75,
    });
    const second = rows.slice(1).sort((a, b) => String(a.keyId).localeCompare(String(b.keyId)));
    expect(second.map((r) => [r.minuteMs, r.keyId, r.requests, r.pricedRequests, r.costUsd])).toEqual([
      [T + 60_000, "key-b", 1, 1, 1],
      [T + 60_000, null, 1, 0, 0],
    ]);
  });

  it("finds the first record at or after a time, where the replay starts", async () => {
    expect(await firstRecordAt(store, 0)).toBe(T + 1_000);
    expect(await firstRecordAt(store, T + 60_500)).toBe(T + 61_000);
    expect(await firstRecordAt(store, T + 120_001)).toBeUndefined();
  });
});
