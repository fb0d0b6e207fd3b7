import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compileAliasMatcher } from "../../src/auth/aliases.js";
import { AuthConfigSchema } from "../../src/auth/config.js";
import { generateKey, hashesEqual, hashKey, maskKey, newId, secretsEqual } from "../../src/auth/key-format.js";

describe("key format", () => {
  it("makes tg- plus 43 base62 characters of 32 random bytes, different every time", () => {
    const keys = new Set(Array.from({ length: 200 }, generateKey));
    expect(keys.size).toBe(200);
    for (const key of keys) expect(key).toMatch(/^tg-[0-9A-Za-z]{43}$/);
  });

  it("stores the SHA-256 hex of the key", () => {
    const key = generateKey();
    expect(hashKey(key)).toBe(createHash("sha256").update(key).digest("hex"));
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("compares hashes and secrets in constant time, false for anything that is not a hash", () => {
    const h = hashKey("tg-a");
    expect(hashesEqual(h, hashKey("tg-a"))).toBe(true);
    expect(hashesEqual(h, hashKey("tg-b"))).toBe(false);
    expect(hashesEqual(h, "short")).toBe(false);
    expect(secretsEqual("master", "master")).toBe(true);
    expect(secretsEqual("master", "master2")).toBe(false);
  });

  it("masks a key as tg-ab***wxyz and never echoes a short or foreign secret whole", () => {
    const key = generateKey();
    const masked = maskKey(key);
    expect(masked).toBe(`${key.slice(0, 5)}***${key.slice(-4)}`);
    expect(masked).not.toContain(key.slice(5, -4));
    expect(maskKey("sk-proj-1234567890abcdef")).toBe("sk***ef");
    expect(maskKey("short")).toBe("***");
  });

  it("makes public ids with a prefix", () => {
    expect(newId("key")).toMatch(/^key_[0-9A-Za-z]{16}$/);
  });
});

describe("allowed aliases", () => {
  it("allows every alias when the list is empty or holds *", () => {
    expect(compileAliasMatcher([])("anything")).toBe(true);
    expect(compileAliasMatcher(["*"])("anything")).toBe(true);
  });

  it("matches exact names and globs, and nothing else", () => {
    const allows = compileAliasMatcher(["fast", "gpt-*", "claude-?-haiku"]);
    expect(allows("fast")).toBe(true);
    expect(allows("gpt-4o")).toBe(true);
    expect(allows("gpt-")).toBe(true);
    expect(allows("claude-3-haiku")).toBe(true);
    expect(allows("claude-35-haiku")).toBe(false);
    expect(allows("fast2")).toBe(false);
    expect(allows("xgpt-4o")).toBe(false);
  });

  it("treats regex characters in a glob literally", () => {
    const allows = compileAliasMatcher(["a.b*"]);
    expect(allows("a.bc")).toBe(true);
    expect(allows("axbc")).toBe(false);
  });
});

describe("AuthConfigSchema", () => {
  it("fills defaults and accepts keys by hash or by env variable", () => {
    const config = AuthConfigSchema.parse({
      orgs: [{ id: "acme" }],
      teams: [{ id: "search", org: "acme" }],
      keys: [
        { id: "k1", name: "ci", team: "search", key_hash: hashKey("tg-x") },
        { id: "k2", name: "bot", team: "search", key_env: "BOT_KEY", allowed_aliases: ["gpt-*"], priority: "high" },
      ],
    });
    expect(config.master_key_env).toBe("TOLLGATE_MASTER_KEY");
    expect(config.keys[0]).toMatchObject({ allowed_aliases: [], priority: "normal", tags: {} });
  });

  it("refuses a key with both or neither of key_hash and key_env, and a hash that is not SHA-256 hex", () => {
    const team = { id: "k", name: "n", team: "t" };
    expect(AuthConfigSchema.safeParse({ keys: [team] }).success).toBe(false);
    expect(AuthConfigSchema.safeParse({ keys: [{ ...team, key_env: "A", key_hash: hashKey("x") }] }).success).toBe(
      false,
    );
    const bad = AuthConfigSchema.safeParse({ keys: [{ ...team, key_hash: "tg-raw-secret" }] });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain("SHA-256");
  });

  it("describes every field (for the generated config reference)", () => {
    const shape = AuthConfigSchema.shape;
    for (const field of Object.values(shape)) expect(field.description).toBeTruthy();
  });
});
