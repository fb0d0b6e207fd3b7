import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAIMock, startOpenAIMock } from "../mocks/openai.js";

// The real entry point, as `npx tollgate` runs it, in its own process.
const ENTRY = ["--import", "tsx", "src/main.ts"];

interface Running {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string;
  exited: Promise<number | null>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(process.execPath, [...ENTRY, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const running: Running = {
    child,
    lines: [],
    stderr: "",
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
  };
  let buffered = "";
  child.stdout?.on("data", (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const line of parts) running.lines.push(line.startsWith("{") ? JSON.parse(line) : { text: line });
  });
  child.stderr?.on("data", (d: Buffer) => {
    running.stderr += d.toString();
  });
  return running;
}

async function listening(r: Running): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const line = r.lines.find((l) => typeof l.port === "number" && String(l.msg).startsWith("tollgate listening"));
    if (line) return `http://127.0.0.1:${line.port}`;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`gateway did not start: ${r.stderr}`);
}

describe("tollgate CLI", () => {
  it("prints --help and exits 0", async () => {
    const r = run(["--help"]);
    expect(await r.exited).toBe(0);
    expect(r.lines.map((l) => l.text).join("\n")).toContain("Usage: tollgate [options]");
  });

  it("fails fast on a bad config, naming the file, the path and what was expected", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
    const file = join(dir, "routes.yaml");
    writeFileSync(file, "providers:\n  p:\n    type: carrier-pigeon\nmodels: {}\n");
    const r = run(["--config", file]);
    expect(await r.exited).toBe(2);
    expect(r.stderr).toContain(`${file}: providers.p.type (line 3): `);
    expect(r.stderr).toContain(
      'expected one of "openai"|"openai-compatible"|"azure"|"anthropic"|"gemini"|"bedrock"|"mock"',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("rejects an unknown flag", async () => {
    const r = run(["--prot", "1"]);
    expect(await r.exited).toBe(2);
    expect(r.stderr).toContain("Unknown option '--prot'");
  });

  it("--check validates the shipped routes.yaml and names disabled providers", async () => {
    const r = run(["--config", "routes.yaml", "--check"]);
    expect(await r.exited).toBe(0);
    const out = r.lines.map((l) => l.text).join("\n");
    expect(out).toContain("routes.yaml: ok");
    expect(out).toContain("provider 'openai' is disabled until OPENAI_API_KEY is set");
  });

  describe("with the shipped routes.yaml and no keys at all", () => {
    let r: Running;
    let origin: string;
    beforeAll(async () => {
      r = run(["--config", "routes.yaml", "--port", "0", "--host", "127.0.0.1"]);
      origin = await listening(r);
    });
    afterAll(async () => {
      r.child.kill("SIGTERM");
      await r.exited;
    });

    it("answers the mock alias with curl-style JSON", async () => {
      const res = await fetch(`${origin}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "mock", messages: [{ role: "user", content: "Hello there" }] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: object };
      expect(body.choices[0]?.message.content).toBe("Mock reply to: Hello there");
      expect(body.usage).toEqual({ prompt_tokens: 8, completion_tokens: 5, total_tokens: 13 });
    });

    it("streams the mock alias to the official SDK, usage included", async () => {
      const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: "tg-any", maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: "mock",
        messages: [{ role: "user", content: "one two three" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        usage = chunk.usage ?? usage;
      }
      expect(text).toBe("Mock reply to: one two three");
      expect(usage?.completion_tokens).toBe(6);
    });

    it("tells which variable to set for a real provider", async () => {
      const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: "tg-any", maxRetries: 0 });
      await expect(
        client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] }),
      ).rejects.toMatchObject({ status: 503, message: expect.stringContaining("OPENAI_API_KEY") });
    });
  });

  describe("shutdown", () => {
    let mock: OpenAIMock;
    beforeAll(async () => {
      mock = await startOpenAIMock();
    });
    afterAll(() => mock.close());

    it("on SIGTERM lets an in-flight stream finish, then exits 0", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
      const file = join(dir, "routes.yaml");
      writeFileSync(
        file,
        `providers:\n  up:\n    type: openai-compatible\n    base_url: ${mock.url}\nmodels:\n  slow:\n    deployments: [{ provider: up, model: mock-slow-stream-25 }]\n`,
      );
      const r = run(["--config", file, "--port", "0", "--host", "127.0.0.1"], { TOLLGATE_DATA_DIR: dir });
      const origin = await listening(r);
      const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: "tg-any", maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: "slow",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      });
      let chunks = 0;
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        if (++chunks === 2) r.child.kill("SIGTERM");
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(chunks).toBe(27); // role + 25 content + finish: nothing cut
      expect(finish).toBe("stop");
      expect(await r.exited).toBe(0);
      expect(r.lines.map((l) => l.msg)).toContain("shutting down: draining in-flight requests");
      expect(r.lines.at(-1)?.msg).toBe("stopped");
      // A new connection after SIGTERM is refused.
      await expect(fetch(`${origin}/health`)).rejects.toThrow();
      // The drained stream's usage record was written before exit.
      const db = new Database(join(dir, "usage.db"), { readonly: true });
      const rows = db.prepare("select outcome, completion_tokens from usage_records").all() as {
        outcome: string;
        completion_tokens: number;
      }[];
      db.close();
      expect(rows).toEqual([{ outcome: "ok", completion_tokens: 20 }]); // as the mock upstream reports it
    });

    it("on SIGTERM under load, every answered request has exactly one usage record", async () => {
      const dir = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
      const file = join(dir, "routes.yaml");
      writeFileSync(
        file,
        `providers:\n  up:\n    type: openai-compatible\n    base_url: ${mock.url}\nmodels:\n  fast:\n    deployments: [{ provider: up, model: gpt-4o-mini }]\n`,
      );
      const r = run(["--config", file, "--port", "0", "--host", "127.0.0.1"], { TOLLGATE_DATA_DIR: dir });
      const origin = await listening(r);
      const answered: string[] = [];
      let sent = 0;
      const body = JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] });
      const worker = async () => {
        for (;;) {
          const id = `load-${sent++}`;
          if (sent > 2000) return;
          if (sent === 300) r.child.kill("SIGTERM");
          try {
            const res = await fetch(`${origin}/v1/chat/completions`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-request-id": id },
              body,
            });
            if (res.status === 200) answered.push(id);
            await res.arrayBuffer();
          } catch {
            return; // the listener is closed: this worker is done
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
      expect(await r.exited).toBe(0);
      expect(answered.length).toBeGreaterThanOrEqual(280);
      const db = new Database(join(dir, "usage.db"), { readonly: true });
      const rows = db.prepare("select request_id from usage_records where status = 200").all() as {
        request_id: string;
      }[];
      db.close();
      const stored = rows.map((row) => row.request_id).sort();
      expect(stored).toEqual([...answered].sort()); // each answered request once, nothing else
    });
  });
});
