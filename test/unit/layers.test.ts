import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// Imports point one way: main -> app -> server -> pipeline -> stages -> services -> providers/stores.
// Each rule: files under `from` must not import anything under `to`.
const FORBIDDEN: [from: string, to: string, why: string][] = [
  ["src/pipeline", "src/server", "the pipeline knows nothing of HTTP"],
  ["src/providers", "src/pipeline", "a provider never imports a stage"],
  ["src/providers", "src/server", "a provider never imports the server"],
  ["src/routing", "src/pipeline", "services sit below the pipeline"],
  ["src/config", "src/pipeline", "config is data"],
  ["src/openai", "src/providers", "the wire format sits below providers"],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((m) => m[1] as string);
}

const files = sourceFiles("src");

describe("import direction", () => {
  it.each(FORBIDDEN)("%s does not import %s (%s)", (from, to) => {
    const offenders = files
      .filter((f) => f.startsWith(from))
      .flatMap((f) =>
        importsOf(f)
          .filter((spec) => spec.startsWith("."))
          .map((spec) => relative(".", resolve(dirname(f), spec)))
          .filter((target) => target.startsWith(to))
          .map((target) => `${f} -> ${target}`),
      );
    expect(offenders).toEqual([]);
  });

  it("only src/server, the admin API and the entry points know hono", () => {
    const offenders = files.filter(
      (f) =>
        !f.startsWith("src/server") &&
        f !== "src/admin/api.ts" &&
        !["src/main.ts", "src/app.ts"].includes(f) &&
        importsOf(f).some((s) => s.startsWith("hono") || s.startsWith("@hono")),
    );
    expect(offenders).toEqual([]);
  });

  it("nothing imports the app or the entry point", () => {
    const offenders = files.filter((f) =>
      importsOf(f).some((s) => s.startsWith(".") && /\/(app|main)\.js$/.test(s) && f !== "src/main.ts"),
    );
    expect(offenders).toEqual([]);
  });
});
