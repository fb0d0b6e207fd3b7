import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configReference } from "../../src/config/reference.js";

describe("README", () => {
  it("carries the config reference generated from the schema (npm run docs:config)", () => {
    const readme = readFileSync("README.md", "utf8");
    const start = readme.indexOf("<!-- config-reference:start -->\n") + "<!-- config-reference:start -->\n".length;
    const end = readme.indexOf("<!-- config-reference:end -->");
    expect(readme.slice(start, end).trim()).toBe(configReference());
  });
});
