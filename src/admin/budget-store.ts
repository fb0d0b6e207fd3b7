import { newId } from "../auth/key-format.js";
import { type BudgetDefinition, BudgetSchema } from "../budget/definition.js";
import type { Store } from "../store/index.js";

/** A budget definition as stored: its own id (`bud_...`), distinct from the scope id inside the definition. */
export interface StoredBudget {
  id: string;
  definition: BudgetDefinition;
  createdAt: number;
  updatedAt: number;
}

/**
 * Budget definitions made through the admin API or CLI, one JSON row each, validated by BudgetSchema on every
 * write (and on read, so a row written by an older version still parses with today's defaults).
 */
export class BudgetStore {
  constructor(private readonly store: Store) {}

  async list(filter: { scope?: string; scopeId?: string } = {}): Promise<StoredBudget[]> {
    let q = this.store.db.selectFrom("budgets").selectAll();
    if (filter.scope !== undefined) q = q.where("scope", "=", filter.scope);
    if (filter.scopeId !== undefined) q = q.where("scope_id", "=", filter.scopeId);
    return (await q.orderBy("created_at").orderBy("id").execute()).map(fromRow);
  }

  async get(id: string): Promise<StoredBudget | undefined> {
    const row = await this.store.db.selectFrom("budgets").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async create(definition: BudgetDefinition, id = newId("bud")): Promise<StoredBudget> {
    const valid = BudgetSchema.parse(definition);
    const now = Date.now();
    await this.store.db
      .insertInto("budgets")
      .values({
        id,
        scope: valid.scope,
        scope_id: valid.id,
        definition: JSON.stringify(valid),
        created_at: now,
        updated_at: now,
      })
      .execute();
    return { id, definition: valid, createdAt: now, updatedAt: now };
  }

  /** Replaces the definition; undefined when there is no such budget. */
  async replace(id: string, definition: BudgetDefinition): Promise<StoredBudget | undefined> {
    const valid = BudgetSchema.parse(definition);
    const result = await this.store.db
      .updateTable("budgets")
      .set({ scope: valid.scope, scope_id: valid.id, definition: JSON.stringify(valid), updated_at: Date.now() })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? this.get(id) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom("budgets").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

function fromRow(row: {
  id: string;
  definition: string;
  created_at: number | string;
  updated_at: number | string;
}): StoredBudget {
  return {
    id: row.id,
    definition: BudgetSchema.parse(JSON.parse(row.definition)),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
