// Semantic cache evaluation: hit rate and false-hit rate of the default embedder, threshold and guards on public
// data (../shared/eval, read in place, never copied) and on adversarial pairs made here. `npx tsx
// bench/eval-cache.ts` (npm run eval:cache). Targets: false hits <= 1% of QQP non-duplicates, none on
// Arena-Hard (distinct real prompts, leave-one-out), none on the adversarial pairs.
// The lexical embedder is a near-duplicate detector: expect modest hit rates on paraphrases.
// Optional embedders run over the same data and join one comparison table: EVAL_ONNX_MODEL=<model folder>
// (or =tiny, the test model: plumbing only), EVAL_ONNX_THRESHOLD. EVAL_QQP_LIMIT=<n> evaluates an evenly spread
// sample of n QQP pairs (for every embedder) instead of all 80,854.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import {
  compareGuardFeatures,
  DEFAULT_SIMILARITY_THRESHOLD,
  dot,
  FlatIndex,
  isEligible,
  type PreparedPrompt,
  SemanticCache,
  type SemanticHit,
} from "../src/cache/semantic/index.js";
import { countTextTokens } from "../src/tokens/encoding.js";
import { adversarialPairs } from "./lib/adversarial-pairs.js";
import { optionalEmbedders, precompute } from "./lib/eval-embedders.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = resolve(ROOT, "../shared/eval");

interface Row {
  dataset: string;
  pairs: number;
  hitRate: number;
  falseHitRate: number;
  precision?: number | undefined;
  embedUsP50: number;
  lookupUsP50: number;
  notes: string;
}

// Reassigned for each optional embedder; the helpers below read them.
let cache = new SemanticCache();
let embedder = cache.embedder;
const embedTimes: number[] = [];
const lookupTimes: number[] = [];

function micros(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const p50 = (values: readonly number[]): number => percentile(values, 50);

/** Embeds (timed) and extracts the guard features; the latter counts as lookup time, as it is per request. */
function prepare(prompt: string): { prepared: PreparedPrompt; featuresUs: number } {
  let start = process.hrtime.bigint();
  const vector = embedder.embed(prompt) as Float32Array;
  embedTimes.push(micros(start));
  start = process.hrtime.bigint();
  const prepared = cache.prepareEmbedded(prompt, vector);
  return { prepared, featuresUs: micros(start) };
}

function timedLookup(namespace: string, prompt: string): { hit: SemanticHit | undefined; prepared: PreparedPrompt } {
  const { prepared, featuresUs } = prepare(prompt);
  const start = process.hrtime.bigint();
  const hit = cache.lookupPrepared(namespace, prepared);
  lookupTimes.push(featuresUs + micros(start));
  return { hit, prepared };
}

/** Runs `body` with fresh timing arrays and returns their medians. */
function timed<T>(body: () => T): { result: T; embedUsP50: number; lookupUsP50: number } {
  embedTimes.length = 0;
  lookupTimes.length = 0;
  const result = body();
  return { result, embedUsP50: p50(embedTimes), lookupUsP50: p50(lookupTimes) };
}

// The data, read once: QQP pairs (store a, ask b), paraphrases, Arena-Hard prompts, adversarial pairs.
interface QqpPair {
  a: string;
  b: string;
  duplicate: boolean;
}
const qqpAll: QqpPair[] = gunzipSync(readFileSync(resolve(DATA, "qqp-pairs.jsonl.gz")))
  .toString("utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as QqpPair);

const qqpLimit = Number(process.env.EVAL_QQP_LIMIT) || qqpAll.length;
const qqpStride = Math.max(1, Math.floor(qqpAll.length / qqpLimit));
const qqp = qqpStride === 1 ? qqpAll : qqpAll.filter((_, i) => i % qqpStride === 0).slice(0, qqpLimit);
const paraphrases = JSON.parse(readFileSync(resolve(DATA, "paraphrase-pairs.json"), "utf8")) as {
  origin: string;
  similar: string;
}[];
const arena = ["arena-hard-v0.1-prompts.jsonl", "arena-hard-v2.0-prompts.jsonl"].flatMap((file) =>
  readFileSync(resolve(DATA, file), "utf8")
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { prompt: string }).prompt),
);
const eligibleArena = arena.filter((prompt) => isEligible(1, countTextTokens(prompt, "o200k_base")));
const adversarial = adversarialPairs();

/** One table row; rates are shares of `pairs`, and a false-hit rate of undefined means "not applicable". */
function row(
  dataset: string,
  pairs: number,
  hits: number,
  falseHits: number | undefined,
  run: { embedUsP50: number; lookupUsP50: number },
  notes: string,
  precision?: number,
): Row {
  const falseHitRate = falseHits === undefined ? Number.NaN : falseHits / pairs;
  const { embedUsP50, lookupUsP50 } = run;
  return { dataset, pairs, hitRate: hits / pairs, falseHitRate, precision, embedUsP50, lookupUsP50, notes };
}

/** Every data set through the current cache and embedder: the rows of the table, the QQP sweep, the raw counts. */
function evaluate() {
  // 1. QQP: one namespace per pair, store a, ask b.
  const qqpRun = timed(() => {
    let duplicateHits = 0;
    let falseHits = 0;
    // Raw similarity and guards per pair too, for the sweep behind the default threshold.
    const scored = qqp.map((pair, i) => {
      const namespace = `qqp:${i}`;
      const stored = prepare(pair.a).prepared;
      cache.storePrepared(namespace, stored, namespace);
      const { hit, prepared } = timedLookup(namespace, pair.b);
      if (hit !== undefined) pair.duplicate ? duplicateHits++ : falseHits++;
      cache.clearNamespace(namespace);
      const similarity = dot(stored.vector, prepared.vector);
      return {
        duplicate: pair.duplicate,
        similarity,
        guards: compareGuardFeatures(stored.features, prepared.features).ok,
      };
    });
    return { duplicateHits, falseHits, scored };
  });
  const qqpDuplicates = qqp.filter((p) => p.duplicate).length;
  const qqpOthers = qqp.length - qqpDuplicates;
  const qqpFalseHitRate = qqpRun.result.falseHits / qqpOthers;
  const sweep = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95].map((threshold) => {
    const above = qqpRun.result.scored.filter((s) => s.similarity >= threshold);
    const share = (hits: typeof above, duplicate: boolean) =>
      hits.filter((s) => s.duplicate === duplicate).length / (duplicate ? qqpDuplicates : qqpOthers);
    const guarded = above.filter((s) => s.guards);
    return {
      threshold,
      hitRate: share(guarded, true),
      falseHitRate: share(guarded, false),
      hitRateWithoutGuards: share(above, true),
      falseHitRateWithoutGuards: share(above, false),
    };
  });

  // 2. Paraphrases: all origins in one namespace, ask each paraphrase.
  const paraphraseRun = timed(() => {
    paraphrases.forEach((p, i) => {
      cache.storePrepared("paraphrase", prepare(p.origin).prepared, `para:${i}`);
    });
    let hits = 0;
    let right = 0;
    for (const p of paraphrases) {
      const { hit } = timedLookup("paraphrase", p.similar);
      if (hit === undefined) continue;
      hits++;
      // Some origins repeat: any entry with the same origin text is the right answer.
      if (paraphrases[Number(hit.entryId.slice(5))]?.origin === p.origin) right++;
    }
    cache.clearNamespace("paraphrase");
    return { hits, right };
  });

  // 3. Arena-Hard: distinct prompts; each asked against an index holding all the others.
  const arenaRun = timed(() => {
    const prepared = eligibleArena.map((prompt) => prepare(prompt).prepared);
    embedTimes.length = 0; // the store phase embeds too; time the asks only, like the other rows
    prepared.forEach((p, i) => {
      cache.storePrepared("arena", p, `arena:${i}`);
    });
    let falseHits = 0;
    eligibleArena.forEach((prompt, i) => {
      cache.remove(`arena:${i}`);
      if (timedLookup("arena", prompt).hit !== undefined) falseHits++;
      cache.storePrepared("arena", prepared[i] as PreparedPrompt, `arena:${i}`);
    });
    cache.clearNamespace("arena");
    return { falseHits };
  });

  // 4. Adversarial: near-identical pairs that want different answers.
  const adversarialRun = timed(() => {
    const byKind: Record<string, number> = {};
    let falseHits = 0;
    let similaritySum = 0;
    let aboveThreshold = 0;
    adversarial.forEach(([kind, a, b], i) => {
      const stored = prepare(a).prepared;
      cache.storePrepared(`adv:${i}`, stored, `adv:${i}`);
      const { hit, prepared } = timedLookup(`adv:${i}`, b);
      if (hit !== undefined) {
        falseHits++;
        byKind[kind] = (byKind[kind] ?? 0) + 1;
      }
      const similarity = dot(stored.vector, prepared.vector);
      similaritySum += similarity;
      if (similarity >= cache.similarityThreshold) aboveThreshold++;
      cache.clearNamespace(`adv:${i}`);
    });
    return { falseHits, byKind, meanSimilarity: similaritySum / adversarial.length, aboveThreshold };
  });

  const { duplicateHits, falseHits: qqpFalseHits } = qqpRun.result;
  const paraphraseWrong = paraphraseRun.result.hits - paraphraseRun.result.right;
  const rows: Row[] = [
    row(
      "QQP duplicates",
      qqpDuplicates,
      duplicateHits,
      undefined,
      qqpRun,
      "precision: duplicate hits / all hits",
      duplicateHits / (duplicateHits + qqpFalseHits),
    ),
    row("QQP non-duplicates", qqpOthers, qqpFalseHits, qqpFalseHits, qqpRun, "every hit is false"),
    row(
      "paraphrases",
      paraphrases.length,
      paraphraseRun.result.hits,
      paraphraseWrong,
      paraphraseRun,
      `${paraphrases.length} origins in one namespace; a false hit returns another origin`,
      paraphraseRun.result.hits === 0 ? undefined : paraphraseRun.result.right / paraphraseRun.result.hits,
    ),
    row(
      "Arena-Hard leave-one-out",
      eligibleArena.length,
      arenaRun.result.falseHits,
      arenaRun.result.falseHits,
      arenaRun,
      `${arena.length - eligibleArena.length} of ${arena.length} over 8,191 tokens skipped; every hit is false`,
    ),
    row(
      "adversarial",
      adversarial.length,
      adversarialRun.result.falseHits,
      adversarialRun.result.falseHits,
      adversarialRun,
      `mean similarity ${adversarialRun.result.meanSimilarity.toFixed(3)}, ` +
        `${adversarialRun.result.aboveThreshold} above the threshold: the guards stop them`,
    ),
  ];

  return { rows, sweep, qqpFalseHitRate, qqpRun, paraphraseRun, arenaRun, adversarialRun };
}

const { rows, sweep, qqpFalseHitRate, arenaRun, adversarialRun } = evaluate();

// Speed: one embed of a 30-word question, and a raw flat-index scan of 10,000 entries, k = 1.
const question =
  "How can I make my Node.js service that reads 5 GB CSV files faster without using more memory, and should I " +
  "switch to streams or worker threads for the parsing step?";
for (let i = 0; i < 2000; i++) embedder.embed(question);
const questionTimes = Array.from({ length: 5000 }, () => {
  const start = process.hrtime.bigint();
  embedder.embed(question);
  return micros(start);
});
const flatScan = [embedder.dimensions, 2048].map((dimensions) => {
  const index = new FlatIndex(dimensions);
  const row = new Float32Array(dimensions);
  for (let i = 0; i < 10_000; i++) {
    for (let d = 0; d < dimensions; d++) row[d] = Math.random() - 0.5;
    index.add(`r${i}`, row);
  }
  for (let i = 0; i < 5; i++) index.search(row, 1);
  const times = Array.from({ length: 40 }, () => {
    const start = process.hrtime.bigint();
    index.search(row, 1);
    return micros(start);
  });
  return { dimensions, entries: 10_000, k: 1, p50Us: p50(times) };
});

// What a semantic lookup adds in the gateway: prepare (embed + guard features) and lookup, 10,000 real
// questions stored in one namespace, 1,000 others asked.
const namespaceLookup = (() => {
  const big = new SemanticCache();
  const stored = qqpAll.slice(0, 10_000).map((p) => p.a);
  for (const [i, q] of stored.entries()) {
    big.storePrepared("big", big.prepareEmbedded(q, embedder.embed(q) as Float32Array), `e${i}`);
  }
  const asked = qqpAll.slice(10_000, 11_000).map((p) => p.b);
  for (const q of asked.slice(0, 100))
    big.lookupPrepared("big", big.prepareEmbedded(q, embedder.embed(q) as Float32Array));
  const times = asked.map((q) => {
    const start = process.hrtime.bigint();
    big.lookupPrepared("big", big.prepareEmbedded(q, embedder.embed(q) as Float32Array));
    return micros(start);
  });
  return { entries: big.namespaceSize("big"), p50Us: p50(times), p99Us: percentile(times, 99) };
})();

const percent = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : `${(x * 100).toFixed(2)}%`);
console.log(`\nSemantic cache evaluation: ${embedder.name}, threshold ${DEFAULT_SIMILARITY_THRESHOLD}\n`);
console.table(
  rows.map((r) => ({
    dataset: r.dataset,
    "pairs/prompts": r.pairs,
    "hit rate": percent(r.hitRate),
    "false-hit rate": percent(r.falseHitRate),
    precision: percent(r.precision),
    "embed µs p50": r.embedUsP50.toFixed(1),
    "lookup µs p50": r.lookupUsP50.toFixed(1),
  })),
);
for (const r of rows) console.log(`  ${r.dataset}: ${r.notes}`);
console.log("\nQQP sweep (guards on / off):");
for (const s of sweep) {
  console.log(
    `  >= ${s.threshold.toFixed(2)}  hits ${percent(s.hitRate).padStart(7)}  false ${percent(s.falseHitRate).padStart(6)}` +
      `   |  without guards: hits ${percent(s.hitRateWithoutGuards).padStart(7)}  false ${percent(s.falseHitRateWithoutGuards).padStart(7)}`,
  );
}
const embedQuestionUs = p50(questionTimes);
console.log(`\nembed, 30-word question: p50 ${embedQuestionUs.toFixed(1)} µs (target < 50)`);
for (const f of flatScan) {
  console.log(`FlatIndex scan, ${f.entries} x ${f.dimensions} dims, k=1: p50 ${(f.p50Us / 1000).toFixed(2)} ms`);
}
console.log(
  `semantic lookup (embed + guards + search), ${namespaceLookup.entries} entries in one namespace: p50 ${namespaceLookup.p50Us.toFixed(1)} µs, p99 ${namespaceLookup.p99Us.toFixed(1)} µs`,
);

const targets = [
  { target: "QQP non-duplicate false hits <= 1%", pass: qqpFalseHitRate <= 0.01, value: percent(qqpFalseHitRate) },
  { target: "Arena-Hard false hits = 0", pass: arenaRun.result.falseHits === 0, value: arenaRun.result.falseHits },
  {
    target: "semantic lookup adds <= 1 ms p50 at 10,000 entries (flat)",
    pass: namespaceLookup.p50Us <= 1000,
    value: `${namespaceLookup.p50Us.toFixed(1)} µs`,
  },
  {
    target: "adversarial false hits = 0",
    pass: adversarialRun.result.falseHits === 0,
    value: adversarialRun.result.falseHits,
  },
];
console.log("");
for (const t of targets) console.log(`${t.pass ? "PASS" : "FAIL"}  ${t.target} (${t.value})`);

// One table, a row per embedder: the default always, then each optional one that can run here.
type Evaluation = Pick<ReturnType<typeof evaluate>, "rows" | "arenaRun" | "adversarialRun">;
function compare(label: string, threshold: number, run: Evaluation, embedUs: number, batchedUs?: number) {
  const rate = (dataset: string, key: "hitRate" | "falseHitRate" | "precision") =>
    run.rows.find((r) => r.dataset === dataset)?.[key];
  return {
    label,
    embedder: embedder.name,
    dimensions: embedder.dimensions,
    threshold,
    qqpDuplicateHitRate: rate("QQP duplicates", "hitRate"),
    qqpPrecision: rate("QQP duplicates", "precision"),
    qqpNonDuplicateFalseHitRate: rate("QQP non-duplicates", "falseHitRate"),
    paraphraseHitRate: rate("paraphrases", "hitRate"),
    paraphraseFalseHitRate: rate("paraphrases", "falseHitRate"),
    arenaFalseHits: run.arenaRun.result.falseHits,
    adversarialFalseHits: run.adversarialRun.result.falseHits,
    embedUsP50: embedUs,
    batchedUsPerText: batchedUs,
  };
}
const defaultEmbedder = { name: embedder.name, dimensions: embedder.dimensions };
const compared: (ReturnType<typeof compare> & { note: string; rows?: Row[]; qqpSweep?: typeof sweep })[] = [
  {
    ...compare(
      "n-gram (default)",
      cache.similarityThreshold,
      { rows, arenaRun, adversarialRun },
      rows[0]?.embedUsP50 ?? 0,
    ),
    note: "in process, lexical: a near-duplicate detector",
  },
];
const { ready, skipped } = await optionalEmbedders(process.env);
for (const option of ready) {
  const texts = new Set([
    ...qqp.flatMap((p) => [p.a, p.b]),
    ...paraphrases.flatMap((p) => [p.origin, p.similar]),
    ...eligibleArena,
    ...adversarial.flatMap(([, a, b]) => [a, b]),
  ]);
  console.log(`\n${option.label}: embedding ${texts.size} distinct texts first...`);
  const pre = await precompute(option.embedder, texts);
  cache = new SemanticCache({ embedder: pre.embedder, similarityThreshold: option.threshold });
  embedder = cache.embedder;
  const run = evaluate();
  compared.push({
    ...compare(option.label, option.threshold, run, pre.singleUsP50, pre.batchedUsPerText),
    note: option.note,
    rows: run.rows,
    qqpSweep: run.sweep,
  });
  await option.close();
}
const sampled = qqp === qqpAll ? `${qqp.length} pairs` : `a sample of ${qqp.length} of ${qqpAll.length} pairs`;
console.log(`\nEmbedders compared (QQP: ${sampled}; false hits on Arena-Hard and adversarial are counts)\n`);
console.table(
  compared.map((c) => ({
    embedder: c.label,
    threshold: c.threshold,
    "QQP dup hits": percent(c.qqpDuplicateHitRate),
    "QQP non-dup false": percent(c.qqpNonDuplicateFalseHitRate),
    "paraphrase hits": percent(c.paraphraseHitRate),
    "paraphrase false": percent(c.paraphraseFalseHitRate),
    "Arena false": c.arenaFalseHits,
    "adversarial false": c.adversarialFalseHits,
    "embed µs p50": c.embedUsP50.toFixed(1),
    "batched µs/text": c.batchedUsPerText === undefined ? "-" : c.batchedUsPerText.toFixed(1),
  })),
);
for (const c of compared) console.log(`  ${c.label}: ${c.note}`);
for (const s of skipped) console.log(`  skipped ${s.embedder}: ${s.reason}`);

const file = resolve(ROOT, "bench/results", `eval-cache-${new Date().toISOString().replace(/:/g, "-")}.json`);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(
  file,
  `${JSON.stringify(
    {
      embedder: defaultEmbedder.name,
      dimensions: defaultEmbedder.dimensions,
      threshold: DEFAULT_SIMILARITY_THRESHOLD,
      qqpPairs: qqp.length,
      rows,
      qqpSweep: sweep,
      adversarialFalseHitsByKind: adversarialRun.result.byKind,
      embedQuestionUsP50: embedQuestionUs,
      flatScan,
      namespaceLookup,
      targets,
      embedders: compared,
      skipped,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${file}`);
if (targets.some((t) => !t.pass)) process.exitCode = 1;
