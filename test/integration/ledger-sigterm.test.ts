import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.js";
import { listRecords } from "../../src/usage/index.js";
import { BACKENDS, type Backend, makeBackend } from "./harness.js";

const CHILD = new URL("./ledger-sigterm-child.ts", import.meta.url).pathname;

describe.each(BACKENDS)("SIGTERM under load on %s", (name) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = await makeBackend(name);
    store = backend.open();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await backend?.cleanup();
  });

  it("writes every record the process took before it exits", async () => {
    const run = `sigterm-${Math.random().toString(36).slice(2, 8)}`;
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, name, run, backend.location, backend.dir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const until = async (check: () => boolean) => {
      while (!check()) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => out.includes("ready"));
    await new Promise((r) => setTimeout(r, 700)); // load: ~200 records a millisecond tick, some flushed, some not
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const recorded = Number(/recorded (\d+)/.exec(out)?.[1]);
    expect(recorded).toBeGreaterThan(1000);
    const stored = (await listRecords(store, { keyId: run }, 10_000_000)).map((r) => r.requestId);
    expect(stored.length).toBe(recorded);
    expect(new Set(stored).size).toBe(recorded);
  });
});
