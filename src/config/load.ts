import { readFile } from "node:fs/promises";
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { type Config, ConfigSchema, SecretsSchema } from "./schema.js";

/** A config problem, already worded for a human: file, YAML path, line and what was expected. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

export interface LoadedConfig {
  config: Config;
  file: string;
  /** Providers whose api_key referenced an unset environment variable: provider name -> variable. */
  missingKeys: Map<string, string>;
  warnings: string[];
}

export interface LoadOptions {
  secretsFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const API_KEY_PATH = /^providers\.[^.]+\.(api_key|bearer_token)$/;

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const text = await readSource(file);
  const secretsFile = options.secretsFile;
  const secretsText = secretsFile ? await readSource(secretsFile) : undefined;
  return parseConfig(text, file, { ...options, secretsText });
}

async function readSource(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new ConfigError([`${file}: cannot read config: ${reason}`]);
  }
}

export function parseConfig(
  text: string,
  file: string,
  options: LoadOptions & { secretsText?: string | undefined } = {},
): LoadedConfig {
  const env = options.env ?? process.env;
  const { value, lines, doc } = parseYaml(text, file);
  const missingKeys = new Map<string, string>();
  const problems: string[] = [];
  const resolved = substituteEnv(value, [], env, (path, variable) => {
    const dotted = formatPath(path);
    if (API_KEY_PATH.test(dotted)) {
      missingKeys.set(String(path[1]), variable);
      return undefined; // provider stays declared but disabled until the variable is set
    }
    problems.push(
      `${file}: ${dotted}${lineOf(doc, lines, path)}: environment variable ${variable} is not set (use \${${variable}:-default} for a fallback)`,
    );
    return undefined;
  });
  if (problems.length) throw new ConfigError(problems);

  const parsed = ConfigSchema.safeParse(resolved);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, file, doc, lines));
  const config = parsed.data;
  const warnings: string[] = [];

  if (options.secretsText !== undefined) {
    const secretsFile = options.secretsFile ?? "secrets.yaml";
    const secrets = parseYaml(options.secretsText, secretsFile);
    const parsedSecrets = SecretsSchema.safeParse(secrets.value ?? {});
    if (!parsedSecrets.success) {
      throw new ConfigError(formatIssues(parsedSecrets.error.issues, secretsFile, secrets.doc, secrets.lines));
    }
    for (const [name, secret] of Object.entries(parsedSecrets.data)) {
      const provider = config.providers[name];
      if (!provider) {
        warnings.push(`${secretsFile}: ${name}: no provider of that name in ${file}; ignored`);
        continue;
      }
      // A key set in routes.yaml (directly or through its env var) wins; the secrets file fills the rest.
      if (provider.api_key === undefined) {
        provider.api_key = secret.api_key;
        missingKeys.delete(name);
      }
    }
  }
  return { config, file, missingKeys, warnings };
}

type Doc = ReturnType<typeof parseDocument>;

function parseYaml(text: string, file: string): { value: unknown; lines: LineCounter; doc: Doc } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const message = (e.message.split("\n")[0] as string).replace(/ at line \d+, column \d+:?$/, "");
        return `${file}${pos ? `:${pos.line}:${pos.col}` : ""}: invalid YAML: ${message}`;
      }),
    );
  }
  return { value: doc.toJS(), lines, doc };
}

function substituteEnv(
  value: unknown,
  path: (string | number)[],
  env: NodeJS.ProcessEnv,
  onMissing: (path: (string | number)[], variable: string) => undefined,
): unknown {
  if (typeof value === "string") {
    if (!value.includes("${")) return value;
    let missing: string | undefined;
    const out = value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (fallback !== undefined) return fallback;
      missing ??= name;
      return "";
    });
    return missing === undefined ? out : onMissing(path, missing);
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, onMissing));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = substituteEnv(v, [...path, k], env, onMissing);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return value;
}

function formatIssues(issues: z.core.$ZodIssue[], file: string, doc: Doc, lines: LineCounter): string[] {
  return issues.map((issue) => {
    let path = issue.path as (string | number)[];
    let message = issue.message.replace(/^Invalid input: /, "");
    if (issue.code === "unrecognized_keys") {
      message = `unexpected key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      path = [...path, issue.keys[0] as string];
    }
    if (issue.code === "invalid_type" && message.endsWith("received undefined")) message = `missing; ${message}`;
    return `${file}: ${formatPath(path) || "(top level)"}${lineOf(doc, lines, path)}: ${message}`;
  });
}

/** `models.gpt-4o.deployments[0].weight` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function lineOf(doc: Doc, lines: LineCounter, path: (string | number)[]): string {
  // Missing keys have no node: point at the nearest ancestor that exists.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && (n === path.length || isMap(node) || isSeq(node)) && node.range) {
      return ` (line ${lines.linePos(node.range[0]).line})`;
    }
  }
  return "";
}
