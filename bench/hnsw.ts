// The semantic tier's large-namespace index: HNSW (hnswlib-node) over N random unit vectors of 512 dimensions
// (random vectors are the hard case: real embeddings cluster), k = 4. `npm run bench:hnsw [N]`, N default
// 100,000; building it takes a few minutes on a small machine. Target: search <= 0.5 ms p50 at 100,000.
import { HnswIndex } from "../src/cache/semantic/index.js";

const dims = 512;
const n = Number(process.argv[2] ?? 100_000);
const index = new HnswIndex(dims, n);
const v = new Float32Array(dims);
const randomUnit = (): Float32Array => {
  let norm = 0;
  for (let d = 0; d < dims; d++) {
    v[d] = Math.random() - 0.5;
    norm += (v[d] as number) ** 2;
  }
  for (let d = 0; d < dims; d++) v[d] = (v[d] as number) / Math.sqrt(norm);
  return v;
};
const built = performance.now();
for (let i = 0; i < n; i++) index.add(`e${i}`, randomUnit());
const buildS = (performance.now() - built) / 1000;
const times: number[] = [];
for (let i = 0; i < 1000; i++) {
  const q = randomUnit();
  const start = performance.now();
  index.search(q, 4);
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const p50 = times[500] as number;
console.log(
  `HNSW, ${n} x ${dims} dims: built in ${buildS.toFixed(1)} s; search k=4 p50 ${p50.toFixed(3)} ms, p99 ${(times[990] as number).toFixed(3)} ms`,
);
console.log(`${p50 <= 0.5 ? "PASS" : "FAIL"}  semantic lookup <= 0.5 ms p50 at ${n} entries (hnsw)`);
