import { PARAMETERS as ANTHROPIC } from "./anthropic/params.js";
import { PARAMETERS as BEDROCK } from "./bedrock/params.js";
import { PARAMETERS as GEMINI } from "./gemini/params.js";
import type { ParameterTable } from "./params.js";

const TABLES: [provider: string, table: ParameterTable][] = [
  ["anthropic", ANTHROPIC],
  ["gemini", GEMINI],
  ["bedrock", BEDROCK],
];

/** The README's parameter tables, generated from each translating provider's declarative table. */
export function parameterTables(): string {
  return TABLES.map(([provider, table]) => {
    const rows = Object.entries(table).map(
      ([field, rule]) => `| \`${field}\` | ${rule.status} | ${rule.native ?? ""} | ${rule.note ?? ""} |`,
    );
    return [
      `#### ${provider}`,
      "",
      "| OpenAI field | status | native field | note |",
      "| --- | --- | --- | --- |",
      ...rows,
      "| any other field | dropped | | named in `x-tollgate-warning` |",
    ].join("\n");
  }).join("\n\n");
}
