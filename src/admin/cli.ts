import { join } from "node:path";
import { parseArgs } from "node:util";
import { PRIORITIES, type Priority } from "../auth/records.js";
import { KeyService } from "../auth/service.js";
import { BUDGET_PERIODS, BUDGET_SCOPES, BudgetSchema } from "../budget/definition.js";
import { GatewayError, toOpenAIError } from "../errors.js";
import { openStore, type Store } from "../store/index.js";
import { BudgetStore } from "./budget-store.js";
import { budgetView, keyView, listView, orgView, teamView, withSecret } from "./views.js";

export const ADMIN_HELP = `tollgate admin commands (print JSON; exit 0 on success, 1 on a refused operation, 2 on a usage error)

  tollgate orgs create --id O [--name N]            tollgate orgs list
  tollgate teams create --org O --id T [--name N]   tollgate teams list [--org O]
  tollgate keys create --team T --name N [--aliases a,b] [--rpm N] [--tpm N] [--priority high|normal|low]
                       [--expires ISO] [--tag k=v ...]
  tollgate keys list [--team T]
  tollgate keys revoke ID
  tollgate keys rotate ID [--grace SECONDS]         (default 3600: the old key works that long)
  tollgate budgets set --scope org|team|key --id ID [--period daily|weekly|monthly|total] [--limit-usd N]
                       [--limit-tokens N] [--level soft|hard] [--alias A] [--provider P] [--warn-at 0.8]
  tollgate budgets list [--scope S] [--id ID]

The store: DATABASE_URL (Postgres) or $TOLLGATE_DATA_DIR/usage.db (default .tollgate/usage.db).
With REDIS_URL set, running gateways drop their cached copies at once; otherwise within their cache TTL.`;

export const ADMIN_COMMANDS = ["orgs", "teams", "keys", "budgets"] as const;

export interface AdminIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: AdminIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const OPTIONS = {
  id: { type: "string" },
  name: { type: "string" },
  org: { type: "string" },
  team: { type: "string" },
  aliases: { type: "string" },
  rpm: { type: "string" },
  tpm: { type: "string" },
  priority: { type: "string" },
  expires: { type: "string" },
  tag: { type: "string", multiple: true },
  grace: { type: "string" },
  scope: { type: "string" },
  period: { type: "string" },
  "limit-usd": { type: "string" },
  "limit-tokens": { type: "string" },
  level: { type: "string" },
  alias: { type: "string" },
  provider: { type: "string" },
  "warn-at": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

/** `tollgate keys|teams|orgs|budgets ...`: opens the store, runs one command, prints JSON; returns the exit code. */
export async function runAdminCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: AdminIo = processIo,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`tollgate: ${(err as Error).message}\n\n${ADMIN_HELP}\n`);
    return 2;
  }
  const [noun, verb, ...rest] = parsed.positionals;
  if (parsed.values.help || noun === undefined || verb === undefined) {
    io.out(`${ADMIN_HELP}\n`);
    return parsed.values.help ? 0 : 2;
  }
  const store = openStore({
    databaseUrl: env.DATABASE_URL || undefined,
    ...(env.TOLLGATE_DB_SCHEMA ? { pgSchema: env.TOLLGATE_DB_SCHEMA } : {}),
    sqlitePath: join(env.TOLLGATE_DATA_DIR || ".tollgate", "usage.db"),
  });
  let keys: KeyService | undefined;
  try {
    await store.migrate();
    keys = await KeyService.open({ store, redisUrl: env.REDIS_URL || undefined });
    const result = await dispatch(`${noun} ${verb}`, rest, parsed.values, keys, store);
    io.out(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`tollgate: ${err.message}\n\n${ADMIN_HELP}\n`);
      return 2;
    }
    if (err instanceof GatewayError) {
      io.err(`${JSON.stringify(toOpenAIError(err).body)}\n`);
      return 1;
    }
    io.err(`tollgate: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await keys?.close();
    await store.close();
  }
}

type Values = Partial<Record<keyof typeof OPTIONS, string | string[] | boolean>>;

async function dispatch(command: string, args: string[], v: Values, keys: KeyService, store: Store): Promise<unknown> {
  const str = (name: keyof typeof OPTIONS) => (typeof v[name] === "string" ? (v[name] as string) : undefined);
  const need = (name: keyof typeof OPTIONS) => {
    const value = str(name);
    if (value === undefined) throw new UsageError(`${command}: --${name} is required`);
    return value;
  };
  const positional = (what: string) => {
    const value = args[0];
    if (value === undefined) throw new UsageError(`${command}: ${what} is required`);
    return value;
  };
  switch (command) {
    case "orgs create":
      return orgView(await keys.tenancy.createOrg({ id: need("id"), name: str("name") }));
    case "orgs list":
      return listView((await keys.tenancy.listOrgs()).map(orgView));
    case "teams create":
      return teamView(await keys.tenancy.createTeam({ id: need("id"), orgId: need("org"), name: str("name") }));
    case "teams list": {
      const orgId = str("org");
      return listView((await keys.tenancy.listTeams(orgId ? { orgId } : {})).map(teamView));
    }
    case "keys create": {
      const priority = str("priority");
      if (priority !== undefined && !(PRIORITIES as readonly string[]).includes(priority)) {
        throw new UsageError(`--priority: expected ${PRIORITIES.join(", ")}`);
      }
      const aliases = str("aliases");
      const created = await keys.createKey({
        name: need("name"),
        teamId: need("team"),
        allowedAliases: aliases ? aliases.split(",").map((a) => a.trim()) : [],
        rpm: int(str("rpm"), "rpm"),
        tpm: int(str("tpm"), "tpm"),
        priority: priority as Priority | undefined,
        expiresAt: time(str("expires"), "expires"),
        tags: tags(v.tag),
      });
      return withSecret(created);
    }
    case "keys list": {
      const teamId = str("team");
      return listView((await keys.listKeys(teamId ? { teamId } : {})).map(keyView));
    }
    case "keys revoke":
      return keyView(await keys.revokeKey(positional("the key id")));
    case "keys rotate":
      return withSecret(await keys.rotateKey(positional("the key id"), int(str("grace"), "grace", 0) ?? 3600));
    case "budgets set":
      return budgetView(await setBudget(store, need, str));
    case "budgets list": {
      const scope = str("scope");
      const scopeId = str("id");
      const list = await new BudgetStore(store).list({ ...(scope ? { scope } : {}), ...(scopeId ? { scopeId } : {}) });
      return listView(list.map(budgetView));
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

/** Replaces the budget with the same scope, id, alias, provider and period, or creates one. */
async function setBudget(
  store: Store,
  need: (n: keyof typeof OPTIONS) => string,
  str: (n: keyof typeof OPTIONS) => string | undefined,
) {
  const scope = need("scope");
  if (!(BUDGET_SCOPES as readonly string[]).includes(scope)) throw new UsageError(`--scope: expected org, team or key`);
  const period = str("period") ?? "monthly";
  if (!(BUDGET_PERIODS as readonly string[]).includes(period)) {
    throw new UsageError(`--period: expected ${BUDGET_PERIODS.join(", ")}`);
  }
  const candidate = {
    scope,
    id: need("id"),
    period,
    ...(str("alias") ? { alias: str("alias") } : {}),
    ...(str("provider") ? { provider: str("provider") } : {}),
    ...(str("limit-usd") ? { limit_usd: num(str("limit-usd"), "limit-usd") } : {}),
    ...(str("limit-tokens") ? { limit_tokens: int(str("limit-tokens"), "limit-tokens") } : {}),
    ...(str("level") ? { level: str("level") } : {}),
    ...(str("warn-at") ? { warn_at: num(str("warn-at"), "warn-at") } : {}),
  };
  const parsed = BudgetSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? "limit-usd").replace("_", "-");
    throw new UsageError(`budgets set: --${field}: ${issue?.message ?? "invalid"}`);
  }
  const budgets = new BudgetStore(store);
  const d = parsed.data;
  const same = (await budgets.list({ scope: d.scope, scopeId: d.id })).find(
    (b) => b.definition.alias === d.alias && b.definition.provider === d.provider && b.definition.period === d.period,
  );
  return same ? ((await budgets.replace(same.id, d)) ?? same) : budgets.create(d);
}

function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name}: expected a number, got "${value}"`);
  return n;
}

function int(value: string | undefined, name: string, min = 1): number | undefined {
  const n = num(value, name);
  if (n !== undefined && (!Number.isInteger(n) || n < min)) {
    throw new UsageError(`--${name}: expected a whole number >= ${min}, got "${value}"`);
  }
  return n;
}

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--${name}: expected an ISO 8601 time, got "${value}"`);
  return ms;
}

function tags(values: Values["tag"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of Array.isArray(values) ? values : []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--tag: expected key=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
