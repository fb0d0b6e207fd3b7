import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The real entry point, as `npx tollgate` runs it (see test/e2e/cli.test.ts).
const ENTRY = ["--import", "tsx", "src/main.ts"];

export interface GatewayProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  origin: string;
  dataDir: string;
  /** Every raw line the process wrote, stdout and stderr. */
  lines: string[];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code, or "killed" when it needed SIGKILL. */
  stop(graceMs?: number): Promise<number | null | "killed">;
}

/** Writes `yaml` to a fresh data dir and starts `tollgate --config` there on a free port; resolves once listening. */
export async function spawnGateway(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), "tollgate-proc-"));
  const config = join(dataDir, "routes.yaml");
  // No network here: the bundled prices serve.
  await writeFile(config, /^pricing:/m.test(yaml) ? yaml : `${yaml}\npricing:\n  sources: []\n`);
  const child = spawn(process.execPath, [...ENTRY, "--config", config, "--port", "0", "--host", "127.0.0.1"], {
    env: { PATH: process.env.PATH, TOLLGATE_DATA_DIR: dataDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buffered = "";
    stream?.on("data", (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts.filter((l) => l !== ""));
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const stop = async (graceMs = 8_000): Promise<number | null | "killed"> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<"killed">((resolve) => {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve("killed");
      }, graceMs);
    });
    const outcome = await Promise.race([exited, killed]);
    clearTimeout(timer);
    return outcome;
  };
  for (let i = 0; i < 400; i++) {
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      const parsed = JSON.parse(line) as { msg?: string; port?: number };
      if (typeof parsed.port === "number" && String(parsed.msg).startsWith("tollgate listening")) {
        return { child, origin: `http://127.0.0.1:${parsed.port}`, dataDir, lines, stop };
      }
    }
    if (child.exitCode !== null || lines.some((l) => l.startsWith("tollgate: fatal"))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop(1_000);
  throw new Error(`gateway did not start:\n${lines.join("\n")}`);
}

/** Runs `tollgate <args>` (an admin command) to its end. */
export function runTollgate(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...ENTRY, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}
