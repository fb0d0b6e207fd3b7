import { describe, expect, it } from "vitest";
import {
  DEFAULT_SIMILARITY_THRESHOLD,
  dot,
  FlatIndex,
  GrowingIndex,
  guardsMatch,
  HnswIndex,
  isEligible,
  NgramEmbedder,
  SemanticCache,
  tokenize,
} from "../../src/cache/semantic/index.js";
import { mulberry32 } from "../../src/routing/strategies/index.js";

const embedder = new NgramEmbedder();
const similarity = (a: string, b: string) => dot(embedder.embed(a), embedder.embed(b));

describe("tokenize", () => {
  it("keeps C, C++ and C# distinct, and symbols that names carry", () => {
    expect(tokenize("Learn C, C++ or C#?")).toEqual(["learn", "c", ",", "c++", "or", "c#", "?"]);
    expect(tokenize("Is .NET faster than Node.js 3.11? I don't know")).toEqual([
      "is",
      ".net",
      "faster",
      "than",
      "node.js",
      "3.11",
      "?",
      "i",
      "don't",
      "know",
    ]);
  });
});

describe("NgramEmbedder", () => {
  it("returns unit vectors, so a dot product is the cosine", () => {
    const v = embedder.embed("How do I learn machine learning?");
    expect(v.length).toBe(embedder.dimensions);
    expect(dot(v, v)).toBeCloseTo(1, 5);
  });

  it("scores near-duplicates above the threshold and unrelated questions below", () => {
    expect(similarity("How can I learn machine learning?", "How can I learn machine learning quickly?")).toBeLessThan(
      1,
    );
    expect(similarity("What is the best way to learn Python?", "what is the best way to learn python")).toBeGreaterThan(
      0.95,
    );
    expect(similarity("How do I learn machine learning?", "How can I learn machine-learning?")).toBeGreaterThan(
      DEFAULT_SIMILARITY_THRESHOLD,
    );
    expect(similarity("How do I learn machine learning?", "What is the capital city of Peru?")).toBeLessThan(0.3);
  });

  it("tells C from C++ in the vector too, not only in the guards", () => {
    expect(similarity("How do I learn C?", "How do I learn C++?")).toBeLessThan(
      similarity("How do I learn C?", "how do I learn C"),
    );
  });
});

describe("guards", () => {
  it.each([
    ["swapped numbers", "Is 7 divisible by 3?", "Is 3 divisible by 7?", "numbers differ"],
    ["a changed number", "What is 15% of 80?", "What is 15% of 90?", "numbers differ"],
    ["a changed version", "What is new in Python 3.11?", "What is new in Python 3.12?", "numbers differ"],
    ["different units", "Convert 5 kg to grams", "Convert 5 lb to grams", "numbers differ"],
    ["units in another order", "convert meters to feet", "convert feet to meters", "units differ"],
    [
      "different quoted strings",
      'What does "carpe diem" mean?',
      'What does "carpe noctem" mean?',
      "quoted strings differ",
    ],
    ["a renamed identifier", "What does getUserById return?", "What does getUsersById return?", "identifiers differ"],
    ["a renamed dotted name", "Explain os.path.join", "Explain os.path.split", "identifiers differ"],
    ["C against C++", "How do I reverse a string in C?", "How do I reverse a string in C++?", "symbols differ"],
    ["C# against F#", "Hello world in C#", "Hello world in F#", "symbols differ"],
    ["an added negation", "Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?", "negations differ"],
    ["a contracted negation", "Why does my code compile?", "Why doesn't my code compile?", "negations differ"],
    ["without", "Bread with yeast", "Bread without yeast", "negations differ"],
    ["a different URL", "Summarise https://a.example/x", "Summarise https://a.example/y", "links differ"],
    [
      "a swapped name",
      "Best hotels in Rome for couples",
      "Best hotels in Barcelona for couples",
      "content words differ",
    ],
  ])("reject %s", (_name, a, b, reason) => {
    expect(guardsMatch(a, b)).toEqual({ ok: false, reason });
  });

  it.each([
    ["case, punctuation and articles", "What is the best way to learn Python?", "what is best way to learn python"],
    ["units spelled out", "How do I lose 10 kg in 2 months?", "How can I lose 10 kilograms in two months?"],
    ["thousands separators", "Is $1,000 a month enough?", "Is $1000 a month enough?"],
    ["an identifier typed in lower case", "What is JavaScript used for?", "What is javascript used for?"],
    ["plurals and word order", "best IDE for Java developers", "Java developer's best IDE"],
  ])("accept %s", (_name, a, b) => {
    expect(guardsMatch(a, b)).toEqual({ ok: true });
  });

  it("can leave content words to the similarity", () => {
    const a = "Best hotels in Rome for couples";
    const b = "Best hotels in Barcelona for couples";
    expect(guardsMatch(a, b, { contentWords: false })).toEqual({ ok: true });
  });
});

describe("FlatIndex", () => {
  it("returns the exact nearest neighbours, best first, across growth and removal", () => {
    const index = new FlatIndex(8, 1);
    const rng = mulberry32(7);
    const vectors = new Map<string, Float32Array>();
    for (let i = 0; i < 200; i++) {
      const v = Float32Array.from({ length: 8 }, () => rng() - 0.5);
      vectors.set(`v${i}`, v);
      index.add(`v${i}`, v);
    }
    for (let i = 0; i < 200; i += 3) {
      index.remove(`v${i}`);
      vectors.delete(`v${i}`);
    }
    expect(index.size).toBe(vectors.size);
    const query = Float32Array.from({ length: 8 }, () => rng() - 0.5);
    const expected = [...vectors]
      .map(([id, v]) => ({ id, score: dot(v, query) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
    const found = index.search(query, 5);
    expect(found.map((h) => h.id)).toEqual(expected.map((h) => h.id));
    found.forEach((h, i) => {
      expect(h.score).toBeCloseTo((expected[i] as { score: number }).score, 5);
    });
    expect(index.search(query, 1)[0]?.id).toBe(expected[0]?.id);
  });

  it("replaces the vector of an id added twice", () => {
    const index = new FlatIndex(2);
    index.add("a", Float32Array.of(1, 0));
    index.add("a", Float32Array.of(0, 1));
    expect(index.size).toBe(1);
    expect(index.search(Float32Array.of(0, 1), 1)).toEqual([{ id: "a", score: 1 }]);
  });
});

describe("SemanticCache", () => {
  it("hits a near-duplicate, misses an unrelated prompt and a guarded edit", async () => {
    const cache = new SemanticCache();
    await cache.store("gpt", "How can I learn machine learning?", "e1");
    expect(await cache.lookup("gpt", "how can i learn machine learning")).toMatchObject({ entryId: "e1" });
    expect(await cache.lookup("gpt", "What is the capital city of Peru?")).toBeUndefined();
    expect(await cache.lookup("gpt", "How can I not learn machine learning?")).toBeUndefined();
  });

  it("keeps namespaces apart", async () => {
    const cache = new SemanticCache();
    await cache.store("model-a", "How do I bake sourdough bread?", "a1");
    expect(await cache.lookup("model-b", "How do I bake sourdough bread?")).toBeUndefined();
    expect(await cache.lookup("model-a", "How do I bake sourdough bread?")).toMatchObject({ entryId: "a1" });
    expect(cache.clearNamespace("model-a")).toEqual(["a1"]);
    expect(await cache.lookup("model-a", "How do I bake sourdough bread?")).toBeUndefined();
  });

  it("returns the next candidate when the nearest fails a guard", async () => {
    const cache = new SemanticCache({ contentWordsMustMatch: false });
    const asked = "How do I reverse a string in C quickly?";
    const nearest = "How do I reverse a string in C++ quickly?";
    const next = "In C, how do I quickly reverse a string?";
    expect(similarity(asked, nearest)).toBeGreaterThan(similarity(asked, next));
    await cache.store("n", nearest, "cpp");
    await cache.store("n", next, "c");
    expect((await cache.lookup("n", asked))?.entryId).toBe("c");
  });

  it("evicts the oldest entry of a full namespace", async () => {
    const cache = new SemanticCache({ maxEntriesPerNamespace: 2 });
    await cache.store("n", "first question about tea", "1");
    await cache.store("n", "second question about coffee", "2");
    expect(await cache.store("n", "third question about water", "3")).toEqual(["1"]);
    expect(cache.namespaceSize("n")).toBe(2);
  });

  it("raises an entry's threshold above similarities that were wrong 30% of the time", async () => {
    const cache = new SemanticCache();
    await cache.store("n", "How do I learn machine learning?", "e");
    const t = cache.similarityThreshold;
    expect(cache.entryThreshold("e")).toBe(t);
    expect(cache.estimatedFalseHitRate("e")).toBeLessThanOrEqual(0.02);
    const rng = mulberry32(42);
    let highestWrong = 0;
    for (let i = 0; i < 60; i++) {
      const s = t + 0.05 * rng();
      const correct = i % 10 >= 3; // 3 in 10 wrong
      if (!correct) highestWrong = Math.max(highestWrong, s);
      cache.recordVerification("e", s, correct);
    }
    const threshold = cache.entryThreshold("e") as number;
    expect(threshold).toBeGreaterThan(highestWrong);
    expect(cache.estimatedFalseHitRate("e")).toBeLessThanOrEqual(0.02);
    expect(cache.estimatedFalseHitRate()).toBeLessThanOrEqual(0.02);
    // Everything that was checked wrong is now refused: a would-be hit at that similarity is not served.
    expect(threshold).toBeGreaterThan(t + 0.03);
  });

  it("keeps the global threshold for an entry whose checks are all correct", async () => {
    const cache = new SemanticCache();
    await cache.store("n", "How do I learn machine learning?", "e");
    const t = cache.similarityThreshold;
    for (let i = 0; i < 60; i++) cache.recordVerification("e", t + 0.05 * (i / 60), true);
    expect(cache.entryThreshold("e")).toBe(t);
    expect(cache.estimatedFalseHitRate("e")).toBeLessThan(0.01);
  });

  it("reports the overall false-hit estimate from the checks it would still accept", async () => {
    const cache = new SemanticCache();
    await cache.store("n", "question one about tea", "a");
    await cache.store("n", "question two about coffee", "b");
    expect(cache.estimatedFalseHitRate()).toBeCloseTo(0.01, 5); // the prior, with no checks
    for (let i = 0; i < 40; i++) cache.recordVerification("a", 0.99, true);
    expect(cache.estimatedFalseHitRate()).toBeCloseTo(0.1 / 50, 5);
  });

  it("asks for a check on the configured share of would-be hits", () => {
    const cache = new SemanticCache({ verifyShare: 0.05 });
    expect(cache.shouldVerify(0.01)).toBe(true);
    expect(cache.shouldVerify(0.05)).toBe(false);
    expect(cache.shouldVerify(0.5)).toBe(false);
  });

  it("is eligible only for short conversations and prompts under 8,191 tokens", () => {
    expect(isEligible(1, 100)).toBe(true);
    expect(isEligible(4, 8190)).toBe(true);
    expect(isEligible(5, 100)).toBe(false);
    expect(isEligible(1, 8191)).toBe(false);
  });
});

describe("HNSW index for large namespaces", () => {
  const unit = (seed: number, dims = 64): Float32Array => {
    const v = new Float32Array(dims);
    let x = seed * 2654435761;
    let norm = 0;
    for (let i = 0; i < dims; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      v[i] = x / 2147483648 - 0.5;
      norm += (v[i] as number) ** 2;
    }
    for (let i = 0; i < dims; i++) v[i] = (v[i] as number) / Math.sqrt(norm);
    return v;
  };

  it("finds the same nearest vector as the exact flat index, and forgets removed ones", () => {
    const hnsw = new HnswIndex(64, 16);
    const flat = new FlatIndex(64);
    for (let i = 0; i < 2000; i++) {
      hnsw.add(`v${i}`, unit(i));
      flat.add(`v${i}`, unit(i));
    }
    let agree = 0;
    for (let q = 5000; q < 5100; q++) if (hnsw.search(unit(q), 1)[0]?.id === flat.search(unit(q), 1)[0]?.id) agree++;
    expect(agree).toBeGreaterThanOrEqual(95);
    expect(hnsw.search(unit(7), 1)[0]).toMatchObject({ id: "v7" });
    expect(hnsw.search(unit(7), 1)[0]?.score).toBeCloseTo(1, 5);
    expect(hnsw.remove("v7")).toBe(true);
    expect(hnsw.search(unit(7), 1)[0]?.id).not.toBe("v7");
    expect(hnsw.size).toBe(1999);
  });

  it("starts flat and moves to HNSW past its threshold, keeping every entry", () => {
    const growing = new GrowingIndex(64, 100);
    for (let i = 0; i < 300; i++) growing.add(`v${i}`, unit(i));
    expect(growing.size).toBe(300);
    for (const i of [0, 99, 100, 299]) expect(growing.search(unit(i), 1)[0]?.id).toBe(`v${i}`);
  });
});
