import { z } from "zod";
import { ConfigSchema, DeploymentSchema, ProviderSchema, ServerSchema } from "./schema.js";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  required?: string[];
}

/** The README's config reference, generated from the zod schema so the two cannot drift apart. */
export function configReference(): string {
  const root = z.toJSONSchema(ConfigSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  // Defaults behind coercing unions do not survive the JSON Schema; read them from parsing instead.
  const defaults = new Map<string, unknown>();
  flatten(ServerSchema.parse({}), "server", defaults);
  flatten(ProviderSchema.parse({ type: "mock" }), "providers.<name>", defaults);
  flatten(DeploymentSchema.parse({ provider: "p", model: "m" }), "models.<name>.deployments[]", defaults);
  const rows: string[] = ["| key | type | default | description |", "| --- | --- | --- | --- |"];
  walk(root, "", rows, false, defaults);
  return rows.join("\n");
}

function walk(schema: JsonSchema, path: string, rows: string[], required: boolean, defaults: Map<string, unknown>) {
  const fallback = defaults.get(path);
  if (path)
    rows.push(`| \`${path}\` | ${typeOf(schema)} | ${defaultOf(fallback, required)} | ${schema.description ?? ""} |`);
  const needed = new Set(schema.required ?? []);
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    walk(child, path ? `${path}.${key}` : key, rows, needed.has(key), defaults);
  }
  const entry = schema.additionalProperties;
  if (entry && typeof entry === "object") walk(entry, `${path}.<name>`, rows, false, defaults);
  if (schema.items) walk(schema.items, `${path}[]`, rows, false, defaults);
}

function flatten(value: object, path: string, out: Map<string, unknown>): void {
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v, `${path}.${k}`, out);
    else out.set(`${path}.${k}`, v);
  }
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (schema.anyOf) return [...new Set(schema.anyOf.map(typeOf))].join(" or ");
  if (schema.properties || (schema.additionalProperties && typeof schema.additionalProperties === "object")) {
    return schema.properties ? "object" : "map";
  }
  const t = Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type ?? "any");
  return t === "array" ? "list" : t;
}

function defaultOf(value: unknown, required: boolean): string {
  if (value !== undefined) return `\`${String(value)}\``;
  return required ? "required" : "";
}
