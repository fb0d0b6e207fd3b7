// Only the auth + rate limit + budget rows of the bench (bench/stages.ts), for working on those stages without
// the full ~8 min run: `npm run bench:stages`. Prints the figures; the full bench writes them to bench/results/.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BODY, type Target } from "./lib/measure.js";
import { freePort, killAll, killAllNow, readPort, spawnNode, waitReady } from "./lib/procs.js";
import { runStagesBench } from "./stages.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const QUICK = process.env.BENCH_QUICK === "1";
process.on("exit", killAllNow);

async function main(): Promise<void> {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
  const mock = spawnNode("mock upstream", ["--import", "tsx", "test/mocks/serve-openai.ts", "0", "20"], {
    readStdout: true,
  });
  const mockPort = await readPort(mock);
  const port = await freePort();
  // The providers other than `upstream` are never called here; their ports only have to parse.
  const tollgate = spawnNode(
    "tollgate",
    ["dist/main.js", "--config", "bench/routes.bench.yaml", "--port", String(port)],
    {
      env: {
        BENCH_UPSTREAM_PORT: String(mockPort),
        BENCH_ANTHROPIC_PORT: "9",
        BENCH_GEMINI_PORT: "9",
        BENCH_BEDROCK_PORT: "9",
      },
      readStdout: false,
    },
  );
  const plain: Target = { name: "tollgate", origin: `http://127.0.0.1:${port}`, proxy: tollgate };
  await waitReady(tollgate, async () => {
    const r = await fetch(`${plain.origin}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BODY,
    });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  });
  const figures = await runStagesBench({
    plain,
    mock,
    mockPort,
    perTarget: QUICK ? 500 : 2000,
    connections: 50,
    durationS: QUICK ? 2 : 5,
  });
  console.table(figures.targets);
  console.log(
    `added p50: embedded ${figures.addedP50.embedded.toFixed(3)} ms (target 0.15), Redis ${
      figures.addedP50.redis?.toFixed(3) ?? figures.redisError
    } ms (target 0.5)`,
  );
}

main()
  .catch((err: Error) => {
    console.error(`bench: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(() => killAll());
