import { describe, expect, it } from "vitest";
import { requestIdFrom, uuidV7 } from "../../src/server/exchange.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("request ids", () => {
  it("are UUIDv7: version 7, RFC variant, the milliseconds in the first 48 bits", () => {
    const ms = Date.UTC(2026, 10, 26, 7, 0, 0, 123);
    const id = uuidV7(ms);
    expect(id).toMatch(V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
    expect(uuidV7(0).startsWith("00000000-0000-7")).toBe(true);
  });

  it("sort by time, so the ledger's primary key grows at its end", () => {
    const ids = [1_000, 1_001, 65_536, 2 ** 40, Date.now()].map((ms) => uuidV7(ms));
    expect([...ids].sort()).toEqual(ids);
  });

  it("differ within one millisecond", () => {
    const ms = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => uuidV7(ms)));
    expect(ids.size).toBe(10_000);
  });

  it("keep a sane client id and replace anything else", () => {
    expect(requestIdFrom("trace-abc.123")).toBe("trace-abc.123");
    expect(requestIdFrom("bad id\n")).toMatch(V7);
    expect(requestIdFrom(undefined)).toMatch(V7);
  });
});
