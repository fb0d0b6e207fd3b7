// Semantic cache evaluation: hit rate and false-hit rate of the default embedder, threshold and guards on public
// data (../shared/eval, read in place, never copied) and on adversarial pairs made here. `npx tsx
// bench/eval-cache.ts` (npm run eval:cache). Targets: false hits <= 1% of QQP non-duplicates, none on
// Arena-Hard (distinct real prompts, leave-one-out), none on the adversarial pairs.
// The lexical embedder is a near-duplicate detector: expect modest hit rates on paraphrases.
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

const cache = new SemanticCache();
const embedder = cache.embedder;
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

// 1. QQP: one namespace per pair, store a, ask b.
interface QqpPair {
  a: string;
  b: string;
  duplicate: boolean;
}
const qqp: QqpPair[] = gunzipSync(readFileSync(resolve(DATA, "qqp-pairs.jsonl.gz")))
  .toString("utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as QqpPair);

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
const paraphrases = JSON.parse(readFileSync(resolve(DATA, "paraphrase-pairs.json"), "utf8")) as {
  origin: string;
  similar: string;
}[];
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
const arena = ["arena-hard-v0.1-prompts.jsonl", "arena-hard-v2.0-prompts.jsonl"].flatMap((file) =>
  readFileSync(resolve(DATA, file), "utf8")
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { prompt: string }).prompt),
);
const eligibleArena = arena.filter((prompt) => isEligible(1, countTextTokens(prompt, "o200k_base")));
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
type Kind = "numbers" | "languages" | "negations" | "identifiers" | "units" | "quotes";
const adversarial = adversarialPairs();
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
    if (similarity >= DEFAULT_SIMILARITY_THRESHOLD) aboveThreshold++;
    cache.clearNamespace(`adv:${i}`);
  });
  return { falseHits, byKind, meanSimilarity: similaritySum / adversarial.length, aboveThreshold };
});

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
  const stored = qqp.slice(0, 10_000).map((p) => p.a);
  for (const [i, q] of stored.entries()) {
    big.storePrepared("big", big.prepareEmbedded(q, embedder.embed(q) as Float32Array), `e${i}`);
  }
  const asked = qqp.slice(10_000, 11_000).map((p) => p.b);
  for (const q of asked.slice(0, 100))
    big.lookupPrepared("big", big.prepareEmbedded(q, embedder.embed(q) as Float32Array));
  const times = asked.map((q) => {
    const start = process.hrtime.bigint();
    big.lookupPrepared("big", big.prepareEmbedded(q, embedder.embed(q) as Float32Array));
    return micros(start);
  });
  return { entries: big.namespaceSize("big"), p50Us: p50(times), p99Us: percentile(times, 99) };
})();

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

const file = resolve(ROOT, "bench/results", `eval-cache-${new Date().toISOString().replace(/:/g, "-")}.json`);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(
  file,
  `${JSON.stringify(
    {
      embedder: embedder.name,
      dimensions: embedder.dimensions,
      threshold: DEFAULT_SIMILARITY_THRESHOLD,
      rows,
      qqpSweep: sweep,
      adversarialFalseHitsByKind: adversarialRun.result.byKind,
      embedQuestionUsP50: embedQuestionUs,
      flatScan,
      namespaceLookup,
      targets,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${file}`);
if (targets.some((t) => !t.pass)) process.exitCode = 1;

/** "a/b c/d" -> [["a", "b"], ["c", "d"]]: the word lists below read better on one line. */
function slashPairs(text: string): [string, string][] {
  return text.split(" ").map((pair) => pair.split("/") as [string, string]);
}

/** Pairs [kind, stored prompt, asked prompt], each a small edit that changes the answer. */
function adversarialPairs(): [Kind, string, string][] {
  const pairs: [Kind, string, string][] = [];
  const add = (kind: Kind, templates: ((x: string) => string)[], swaps: [string, string][]) => {
    for (const t of templates) for (const [x, y] of swaps) pairs.push([kind, t(x), t(y)]);
  };
  add(
    "numbers",
    [
      (x) => `What is 15% of ${x}?`,
      (x) => `How many calories do I burn walking ${x} km a day?`,
      (x) => `Is a ${x} year old too old to start learning the piano?`,
      (x) => `What was the population of France in ${x}?`,
      (x) => `Write a Python function that returns the first ${x} prime numbers.`,
      (x) => `What are the new features in Python 3.${x}?`,
    ],
    slashPairs("12/13 80/90 10/100 1.5/2.5 1990/1999"),
  );
  for (const [x, y] of slashPairs("7/3 10/2 1024/768 5/9 31/13")) {
    // Same numbers, swapped order.
    pairs.push(["numbers", `Is ${x} divisible by ${y}?`, `Is ${y} divisible by ${x}?`]);
    pairs.push(["numbers", `Divide ${x} by ${y} and round the result.`, `Divide ${y} by ${x} and round the result.`]);
  }
  const languageTasks = [
    "How do I reverse a string in",
    "What is the fastest way to sort a list in",
    "Write a hello world program in",
    "How do I read a file line by line in",
    "How does memory management work in",
    "What is the best IDE for",
    "How do I start a thread in",
    "Show me how to parse JSON in",
    "How do I connect to a PostgreSQL database from",
    "What are the most common interview questions about",
  ];
  add(
    "languages",
    languageTasks.map((task) => (x: string) => `${task} ${x}?`),
    slashPairs("C/C++ C/C# C/F# C++/C# C++/F# C#/F#"),
  );
  const negations = [
    "Is it safe to eat raw eggs? | Is it not safe to eat raw eggs?",
    "Why can I sleep at night? | Why can't I sleep at night?",
    "How do I make bread with yeast? | How do I make bread without yeast?",
    "Should I use a VPN on public wifi? | Should I never use a VPN on public wifi?",
    "Does coffee dehydrate you? | Doesn't coffee dehydrate you?",
    "Which fruits contain vitamin C? | Which fruits contain no vitamin C?",
    "Why do cats like water? | Why don't cats like water?",
    "Is it a good idea to invest in bonds now? | Is it not a good idea to invest in bonds now?",
    "List countries that use the euro. | List countries that do not use the euro.",
    "How do I cook rice with a rice cooker? | How do I cook rice without a rice cooker?",
    "Why does my code compile? | Why doesn't my code compile?",
    "Can dogs eat grapes? | Can't dogs eat grapes?",
    "Write a cover letter that mentions my salary. | Write a cover letter that never mentions my salary.",
    "Is zero a natural number? | Is zero not a natural number?",
    "Explain why the sky is blue. | Explain why the sky is not blue.",
  ];
  for (const line of negations) pairs.push(["negations", ...(line.split(" | ") as [string, string])]);
  add(
    "identifiers",
    [
      (x) => `What does ${x} return when the input is empty?`,
      (x) => `Why is \`${x}\` slow in my code?`,
      (x) => `Write unit tests for ${x}.`,
      (x) => `Rename ${x} in the whole project.`,
    ],
    slashPairs(
      "getUserById/getUsersById fetchOrders/fetchOrder user_id/user_ids os.path.join/os.path.split " +
        "useEffect/useLayoutEffect Array.prototype.map/Array.prototype.flatMap parseInt/parseFloat " +
        "max_retries/max_attempts np.mean/np.median setTimeout/setInterval",
    ),
  );
  const unitSwaps = slashPairs("kg/lb km/miles °C/°F GB/MB ml/liters minutes/hours meters/feet USD/EUR");
  add(
    "units",
    [
      (x) => `Convert 25 ${x} to grams or ounces.`,
      (x) => `Is 40 ${x} a lot?`,
      (x) => `My suitcase weighs 23 ${x}, is that allowed?`,
    ],
    unitSwaps,
  );
  for (const [x, y] of unitSwaps) {
    pairs.push(["units", `How do I convert ${x} to ${y} in Excel?`, `How do I convert ${y} to ${x} in Excel?`]);
  }
  add(
    "quotes",
    [(x) => `What does "${x}" mean?`, (x) => `Translate '${x}' into Spanish.`, (x) => `Search my notes for "${x}".`],
    [
      ["carpe diem", "carpe noctem"],
      ["good morning", "good night"],
      ["Hello, World", "Hello World!"],
      ["break a leg", "break the ice"],
      ["SELECT * FROM users", "SELECT * FROM orders"],
      ["ls -la", "ls -lh"],
      ["error: ENOENT", "error: EACCES"],
      ["to be or not to be", "to be and not to be"],
    ],
  );
  return pairs;
}
