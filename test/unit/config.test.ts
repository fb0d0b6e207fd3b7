import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/load.js";

const minimal = `
providers:
  openai:
    type: openai
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o:
    deployments:
      - provider: openai
        model: gpt-4o-2024-08-06
`;

function problemsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, "routes.yaml", { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("routes.yaml validation", () => {
  it("fills the defaults from the schema", () => {
    const { config } = parseConfig(minimal, "routes.yaml", { env: { OPENAI_API_KEY: "sk-test" } });
    expect(config.server).toMatchObject({ host: "0.0.0.0", port: 8787, body_limit: 4 * 1024 * 1024 });
    expect(config.server.timeouts).toEqual({ connect_ms: 10_000, first_byte_ms: 120_000, idle_ms: 120_000 });
    expect(config.models["gpt-4o"]?.deployments[0]).toEqual({
      provider: "openai",
      model: "gpt-4o-2024-08-06",
      weight: 1,
    });
    expect(config.providers.openai?.api_key).toBe("sk-test");
  });

  it("names the file, the YAML path, the line and what was expected", () => {
    const yaml = minimal.replace("model: gpt-4o-2024-08-06", "model: gpt-4o-2024-08-06\n        weight: heavy");
    const [problem] = problemsOf(yaml, { OPENAI_API_KEY: "k" });
    expect(problem).toBe(
      "routes.yaml: models.gpt-4o.deployments[0].weight (line 11): expected number, received string",
    );
  });

  it("reports every problem at once, unknown keys included", () => {
    const yaml = `
server:
  prot: 8080
  body_limit: lots
providers:
  local:
    type: openai-compatible
models:
  m:
    deployments:
      - provider: nowhere
        model: x
`;
    const problems = problemsOf(yaml);
    expect(problems).toContain('routes.yaml: server.prot (line 3): unexpected key "prot"');
    expect(problems.some((p) => p.startsWith("routes.yaml: server.body_limit (line 4):"))).toBe(true);
    expect(problems).toContain(
      "routes.yaml: providers.local.base_url (line 7): expected a base_url for type openai-compatible",
    );
    expect(problems).toContain(
      'routes.yaml: models.m.deployments[0].provider (line 11): expected one of the providers (local), got "nowhere"',
    );
  });

  it("checks the azure fields: a base_url, an api-version's form, and no azure fields on other types", () => {
    const yaml = `
providers:
  az:
    type: azure
    api_version: latest
  oa:
    type: openai
    api_version: 2024-10-21
models: {}
`;
    expect(problemsOf(yaml)).toEqual([
      'routes.yaml: providers.az.api_version (line 5): expected an api-version such as "2024-10-21"',
      "routes.yaml: providers.az.base_url (line 4): expected a base_url for type azure",
      "routes.yaml: providers.oa.api_version (line 8): expected api_version only with type azure",
    ]);
  });

  it("rejects a missing required section", () => {
    expect(problemsOf("providers: {}\n")).toEqual([
      "routes.yaml: models (line 1): missing; expected record, received undefined",
    ]);
  });

  it("reports broken YAML with its position", () => {
    const [problem] = problemsOf("providers:\n  a: [1, 2\nmodels: {}\n");
    expect(problem).toMatch(/^routes\.yaml:\d+:\d+: invalid YAML: /);
  });

  it("substitutes ${VAR} and ${VAR:-default}, and coerces numbers that came from the environment", () => {
    const yaml = `server:\n  port: \${PORT:-9000}\n${minimal}`;
    expect(parseConfig(yaml, "r.yaml", { env: { OPENAI_API_KEY: "k" } }).config.server.port).toBe(9000);
    expect(parseConfig(yaml, "r.yaml", { env: { OPENAI_API_KEY: "k", PORT: "7000" } }).config.server.port).toBe(7000);
  });

  it("keeps a provider whose key variable is unset, disabled and naming the variable", () => {
    const loaded = parseConfig(minimal, "routes.yaml", { env: {} });
    expect(loaded.config.providers.openai?.api_key).toBeUndefined();
    expect(loaded.missingKeys.get("openai")).toBe("OPENAI_API_KEY");
  });

  it("fails on an unset variable anywhere but an api_key", () => {
    const yaml = minimal.replace("type: openai", "type: openai\n    base_url: ${OPENAI_BASE}");
    expect(problemsOf(yaml, { OPENAI_API_KEY: "k" })).toEqual([
      "routes.yaml: providers.openai.base_url (line 5): environment variable OPENAI_BASE is not set (use ${OPENAI_BASE:-default} for a fallback)",
    ]);
  });

  it("parses sizes with units", () => {
    const yaml = `server:\n  body_limit: 512kb\n${minimal}`;
    expect(parseConfig(yaml, "r.yaml", { env: { OPENAI_API_KEY: "k" } }).config.server.body_limit).toBe(512 * 1024);
  });

  it("needs a deployment with weight above zero", () => {
    const yaml = minimal.replace("model: gpt-4o-2024-08-06", "model: gpt-4o-2024-08-06\n        weight: 0");
    expect(problemsOf(yaml, { OPENAI_API_KEY: "k" })).toEqual([
      "routes.yaml: models.gpt-4o.deployments (line 9): expected at least one deployment with a weight above 0",
    ]);
  });

  it("accepts the routes.yaml shipped with the project", async () => {
    const loaded = await loadConfig("routes.yaml", { env: {} });
    expect(Object.keys(loaded.config.models)).toContain("mock");
    expect(loaded.missingKeys.get("openai")).toBe("OPENAI_API_KEY");
  });
});

describe("secrets.yaml", () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-secrets-"));

  it("fills provider keys from a Kubernetes/OpenBao-shaped file", async () => {
    const routes = join(dir, "routes.yaml");
    const secrets = join(dir, "secrets.yaml");
    writeFileSync(routes, minimal);
    writeFileSync(secrets, "openai:\n  api_key: sk-from-secrets\nunknown:\n  api_key: x\n");
    const loaded = await loadConfig(routes, { secretsFile: secrets, env: {} });
    expect(loaded.config.providers.openai?.api_key).toBe("sk-from-secrets");
    expect(loaded.missingKeys.size).toBe(0);
    expect(loaded.warnings).toEqual([`${secrets}: unknown: no provider of that name in ${routes}; ignored`]);
  });

  it("lets a key set through the environment win over the file", async () => {
    const routes = join(dir, "routes2.yaml");
    const secrets = join(dir, "secrets2.yaml");
    writeFileSync(routes, minimal);
    writeFileSync(secrets, "openai:\n  api_key: sk-from-secrets\n");
    const loaded = await loadConfig(routes, { secretsFile: secrets, env: { OPENAI_API_KEY: "sk-env" } });
    expect(loaded.config.providers.openai?.api_key).toBe("sk-env");
  });

  it("names the secrets file and path when it is malformed", async () => {
    const routes = join(dir, "routes3.yaml");
    const secrets = join(dir, "secrets3.yaml");
    writeFileSync(routes, minimal);
    writeFileSync(secrets, "openai:\n  apikey: oops\n");
    await expect(loadConfig(routes, { secretsFile: secrets, env: {} })).rejects.toThrow(
      `${secrets}: openai.api_key (line 2): missing; expected string, received undefined`,
    );
  });

  it("says so when a file does not exist", async () => {
    await expect(loadConfig(join(dir, "nope.yaml"))).rejects.toThrow("nope.yaml: cannot read config: no such file");
  });
});
