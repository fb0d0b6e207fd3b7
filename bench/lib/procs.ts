// Child processes for the bench: spawn, wait until they answer, read their CPU and memory from /proc, kill them all.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last lines of stderr, for error messages. */
  stderr(): string;
}

const children = new Set<Proc>();

/** Spawns a node process; stdout is piped only when the caller reads the port from it. */
export function spawnNode(name: string, args: string[], opts: { env?: NodeJS.ProcessEnv; readStdout: boolean }): Proc {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", opts.readStdout ? "pipe" : "ignore", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: failed to spawn`);
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    err = (err + s).slice(-4000);
  });
  const proc: Proc = { name, child, pid: child.pid, stderr: () => err.trim() };
  children.add(proc);
  child.once("exit", () => children.delete(proc));
  return proc;
}

/** Rejects as soon as the process exits: a child dying mid-run must fail the bench, not skew it. */
export function exited(proc: Proc): Promise<never> {
  return new Promise((_, reject) => {
    proc.child.once("exit", (code, signal) =>
      reject(new Error(`${proc.name} exited (code ${code}, signal ${signal})\n${proc.stderr()}`)),
    );
  });
}

/** The first line a child prints on stdout: its bound port. */
export async function readPort(proc: Proc, timeoutMs = 15_000): Promise<number> {
  const stdout = proc.child.stdout;
  if (!stdout) throw new Error(`${proc.name}: stdout not piped`);
  stdout.setEncoding("utf8");
  let buf = "";
  const line = new Promise<string>((resolve) => {
    stdout.on("data", (s: string) => {
      buf += s;
      const i = buf.indexOf("\n");
      if (i >= 0) resolve(buf.slice(0, i).trim());
    });
  });
  const text = await Promise.race([line, exited(proc), timeout(timeoutMs, `${proc.name} did not print its port`)]);
  const port = Number(text);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${proc.name} printed "${text}", expected a port`);
  return port;
}

/** Polls `probe` until it succeeds, failing early if the process dies. */
export async function waitReady(proc: Proc, probe: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const died = exited(proc);
  died.catch(() => {});
  for (;;) {
    try {
      await Promise.race([probe(), died]);
      return;
    } catch (err) {
      const { exitCode, signalCode } = proc.child;
      if (exitCode !== null || signalCode !== null) {
        throw new Error(
          `${proc.name} exited (code ${exitCode}, signal ${signalCode}) before answering\n${proc.stderr()}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`${proc.name} did not answer within ${timeoutMs} ms: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  server.close();
  return port;
}

/** SIGTERM everyone, then SIGKILL whoever is still there after `graceMs`. */
export async function killAll(graceMs = 3000): Promise<void> {
  const alive = [...children];
  for (const p of alive) p.child.kill("SIGTERM");
  await Promise.race([
    Promise.all(alive.map((p) => (p.child.exitCode === null ? once(p.child, "exit") : undefined))),
    new Promise((r) => setTimeout(r, graceMs).unref()),
  ]);
  killAllNow();
}

export function killAllNow(): void {
  for (const p of children) p.child.kill("SIGKILL");
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // comm (field 2) may contain spaces: count fields from the closing parenthesis; state is field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return (ticks * 1e6) / CLK_TCK;
}

/** Peak resident set size (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export { CLK_TCK };
