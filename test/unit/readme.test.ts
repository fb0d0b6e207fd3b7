import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configReference } from "../../src/config/reference.js";
import { parameterTables } from "../../src/providers/docs.js";

function section(readme: string, name: string): string {
  const start = readme.indexOf(`<!-- ${name}:start -->\n`) + `<!-- ${name}:start -->\n`.length;
  return readme.slice(start, readme.indexOf(`<!-- ${name}:end -->`)).trim();
}

describe("README", () => {
  it("carries the config reference generated from the schema (npm run docs:config)", () => {
    expect(section(readFileSync("README.md", "utf8"), "config-reference")).toBe(configReference());
  });

  it("carries each translating provider's parameter table (npm run docs:params)", () => {
    expect(section(readFileSync("README.md", "utf8"), "parameter-tables")).toBe(parameterTables());
  });
});
