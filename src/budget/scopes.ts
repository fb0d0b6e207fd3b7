import type { UsageFilters } from "../usage/query.js";
import type { BudgetDefinition } from "./definition.js";

/** Who is asking: the identities the auth stage resolved plus what the request is for. */
export interface BudgetSubject {
  orgId?: string;
  teamId?: string;
  keyId?: string;
  alias: string;
  provider: string;
}

/** A definition with the names it is known by, computed once per setDefinitions(). */
export interface CompiledBudget {
  def: BudgetDefinition;
  /** Counter key prefix, e.g. "team:blue:alias=chat"; the period bucket is appended per request. */
  scopeKey: string;
  /** Human label for messages and metrics, e.g. "team blue, alias chat". */
  label: string;
}

export function scopeKeyOf(def: Pick<BudgetDefinition, "scope" | "id" | "alias" | "provider">): string {
  let key = `${def.scope}:${def.id}`;
  if (def.alias !== undefined) key += `:alias=${def.alias}`;
  if (def.provider !== undefined) key += `:provider=${def.provider}`;
  return key;
}

export function scopeLabelOf(def: Pick<BudgetDefinition, "scope" | "id" | "alias" | "provider">): string {
  let label = `${def.scope} ${def.id}`;
  if (def.alias !== undefined) label += `, alias ${def.alias}`;
  if (def.provider !== undefined) label += `, provider ${def.provider}`;
  return label;
}

/** The ledger filters that select a budget scope's spend (its org, team or key, narrowed by alias and provider). */
export function usageFiltersOf(def: Pick<BudgetDefinition, "scope" | "id" | "alias" | "provider">): UsageFilters {
  const f: UsageFilters = {};
  if (def.scope === "org") f.orgId = def.id;
  else if (def.scope === "team") f.teamId = def.id;
  else f.keyId = def.id;
  if (def.alias !== undefined) f.alias = def.alias;
  if (def.provider !== undefined) f.provider = def.provider;
  return f;
}

/** Definitions indexed by "scope:id" so matching a request costs three map lookups. */
export class BudgetIndex {
  private readonly byOwner = new Map<string, CompiledBudget[]>();
  readonly all: readonly CompiledBudget[];

  constructor(definitions: readonly BudgetDefinition[]) {
    const all: CompiledBudget[] = [];
    for (const def of definitions) {
      const compiled = { def, scopeKey: scopeKeyOf(def), label: scopeLabelOf(def) };
      all.push(compiled);
      const owner = `${def.scope}:${def.id}`;
      const list = this.byOwner.get(owner);
      if (list) list.push(compiled);
      else this.byOwner.set(owner, [compiled]);
    }
    this.all = all;
  }

  /** Every definition whose org/team/key id matches and whose alias/provider, when set, match too. */
  match(subject: BudgetSubject): CompiledBudget[] {
    const out: CompiledBudget[] = [];
    this.collect(out, subject.orgId === undefined ? undefined : `org:${subject.orgId}`, subject);
    this.collect(out, subject.teamId === undefined ? undefined : `team:${subject.teamId}`, subject);
    this.collect(out, subject.keyId === undefined ? undefined : `key:${subject.keyId}`, subject);
    return out;
  }

  private collect(out: CompiledBudget[], owner: string | undefined, subject: BudgetSubject): void {
    if (owner === undefined) return;
    const list = this.byOwner.get(owner);
    if (!list) return;
    for (const c of list) {
      if (c.def.alias !== undefined && c.def.alias !== subject.alias) continue;
      if (c.def.provider !== undefined && c.def.provider !== subject.provider) continue;
      out.push(c);
    }
  }
}
