import type { Context, Hono } from "hono";
import { Hono as HonoApp } from "hono";
import { z } from "zod";
import { maskKey, secretsEqual } from "../auth/key-format.js";
import { PRIORITIES } from "../auth/records.js";
import type { KeyPatch, KeyService } from "../auth/service.js";
import { BudgetSchema } from "../budget/definition.js";
import { formatPath } from "../config/load.js";
import { GatewayError, invalidRequest, toOpenAIError } from "../errors.js";
import type { Store } from "../store/index.js";
import { BudgetStore } from "./budget-store.js";
import { budgetView, keyView, listView, orgView, teamView, withSecret } from "./views.js";

export interface AdminApiDeps {
  keys: KeyService;
  store: Store;
  /** From the environment (auth.master_key_env); unset: every /admin route answers 503. */
  masterKey: string | undefined;
  /** Named in the 503 that says how to enable the API. Default TOLLGATE_MASTER_KEY. */
  masterKeyEnv?: string;
  /** Called after a budget changed here; other replicas hear of it as a `budgets` event on KeyService.subscribe(). */
  onBudgetsChanged(): void;
  /** Emergency brakes in force, and their reset (shared by every replica with Redis). */
  brakes?: {
    list(): Promise<{ scope: string; until: Date }[]>;
    reset(scope: string): Promise<void>;
  };
}

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, "expected letters, digits, _ . : - (max 128)");
const Iso = z.iso.datetime({ offset: true });
const Tags = z.record(z.string(), z.string());
const Aliases = z.array(z.string().min(1));
const Limit = z.number().int().positive();

const KeyCreateSchema = z
  .object({
    name: z.string().min(1),
    team_id: Id,
    allowed_aliases: Aliases.optional(),
    rpm: Limit.nullable().optional(),
    tpm: Limit.nullable().optional(),
    priority: z.enum(PRIORITIES).optional(),
    expires_at: Iso.nullable().optional(),
    tags: Tags.optional(),
    enabled: z.boolean().optional(),
  })
  .strict();
const KeyPatchSchema = KeyCreateSchema.partial().strict();
const RotateSchema = z.object({ grace_seconds: z.number().int().min(0).default(3600) }).strict();
const OrgCreateSchema = z.object({ id: Id, name: z.string().min(1).optional() }).strict();
const OrgPatchSchema = z.object({ name: z.string().min(1).optional() }).strict();
const TeamCreateSchema = z.object({ id: Id, org_id: Id, name: z.string().min(1).optional() }).strict();
const TeamPatchSchema = z.object({ org_id: Id.optional(), name: z.string().min(1).optional() }).strict();
const BrakeResetSchema = z.object({ scope: z.string().min(1) }).strict();

/**
 * `/admin/orgs`, `/admin/teams`, `/admin/keys`, `/admin/budgets`: create (POST), list and get (GET), update
 * (PATCH), delete (DELETE; for keys a revocation, `?purge=true` removes the row), plus key rotate and revoke, and
 * the emergency brakes: `GET /admin/budgets/brakes`, `POST /admin/budgets/brakes/reset {"scope": "team blue"}`.
 * Only the master key is accepted, compared in constant time; a team key gets 403 admin_only.
 */
export function mountAdminApi(app: Hono, deps: AdminApiDeps): void {
  const { keys } = deps;
  const tenancy = keys.tenancy;
  const budgets = new BudgetStore(deps.store);
  const admin = new HonoApp();
  admin.onError((err) => errorJson(err));
  admin.notFound(() => errorJson(new GatewayError("Unknown admin route.", { status: 404, type: "not_found_error" })));
  admin.use("*", async (c, next) => {
    authorise(c.req.header("authorization"), deps);
    await next();
  });

  admin.get("/orgs", async () => ok(listView((await tenancy.listOrgs()).map(orgView))));
  admin.post("/orgs", async (c) => {
    const body = await parseJson(c, OrgCreateSchema);
    return ok(orgView(await tenancy.createOrg(body)), 201);
  });
  admin.get("/orgs/:id", async (c) => ok(orgView(await tenancy.requireOrg(c.req.param("id")))));
  admin.patch("/orgs/:id", async (c) => {
    const body = await parseJson(c, OrgPatchSchema);
    return ok(orgView(await tenancy.updateOrg(c.req.param("id"), body)));
  });
  admin.delete("/orgs/:id", async (c) => {
    await tenancy.deleteOrg(c.req.param("id"));
    return ok({ object: "org", id: c.req.param("id"), deleted: true });
  });

  admin.get("/teams", async (c) => {
    const orgId = c.req.query("org_id");
    return ok(listView((await tenancy.listTeams(orgId ? { orgId } : {})).map(teamView)));
  });
  admin.post("/teams", async (c) => {
    const body = await parseJson(c, TeamCreateSchema);
    return ok(teamView(await tenancy.createTeam({ id: body.id, orgId: body.org_id, name: body.name })), 201);
  });
  admin.get("/teams/:id", async (c) => ok(teamView(await tenancy.requireTeam(c.req.param("id")))));
  admin.patch("/teams/:id", async (c) => {
    const body = await parseJson(c, TeamPatchSchema);
    return ok(teamView(await tenancy.updateTeam(c.req.param("id"), { name: body.name, orgId: body.org_id })));
  });
  admin.delete("/teams/:id", async (c) => {
    await tenancy.deleteTeam(c.req.param("id"));
    return ok({ object: "team", id: c.req.param("id"), deleted: true });
  });

  admin.get("/keys", async (c) => {
    const teamId = c.req.query("team_id");
    const orgId = c.req.query("org_id");
    const list = await keys.listKeys({ ...(teamId ? { teamId } : {}), ...(orgId ? { orgId } : {}) });
    return ok(listView(list.map(keyView)));
  });
  admin.post("/keys", async (c) => {
    const body = await parseJson(c, KeyCreateSchema);
    const { teamId, ...rest } = keyPatch(body);
    return ok(withSecret(await keys.createKey({ ...rest, name: body.name, teamId: teamId ?? body.team_id })), 201);
  });
  admin.get("/keys/:id", async (c) => ok(keyView(await keys.getKey(c.req.param("id")))));
  admin.patch("/keys/:id", async (c) => {
    const body = await parseJson(c, KeyPatchSchema);
    return ok(keyView(await keys.updateKey(c.req.param("id"), keyPatch(body))));
  });
  admin.post("/keys/:id/revoke", async (c) => ok(keyView(await keys.revokeKey(c.req.param("id")))));
  admin.post("/keys/:id/rotate", async (c) => {
    const body = await parseJson(c, RotateSchema, true);
    return ok(withSecret(await keys.rotateKey(c.req.param("id"), body.grace_seconds)));
  });
  admin.delete("/keys/:id", async (c) => {
    const id = c.req.param("id");
    if (c.req.query("purge") === "true") {
      await keys.deleteKey(id);
      return ok({ object: "key", id, deleted: true });
    }
    return ok(keyView(await keys.revokeKey(id)));
  });

  const budgetsChanged = async () => {
    deps.onBudgetsChanged();
    await keys.publish({ kind: "budgets" });
  };
  const requireBudget = async (id: string) => {
    const found = await budgets.get(id);
    if (found === undefined) {
      throw new GatewayError(`No budget with id '${id}'.`, { status: 404, type: "not_found_error", code: "not_found" });
    }
    return found;
  };
  admin.get("/budgets", async (c) => {
    const scope = c.req.query("scope");
    const scopeId = c.req.query("scope_id");
    const list = await budgets.list({ ...(scope ? { scope } : {}), ...(scopeId ? { scopeId } : {}) });
    return ok(listView(list.map(budgetView)));
  });
  admin.post("/budgets", async (c) => {
    const created = await budgets.create(await parseJson(c, BudgetSchema));
    await budgetsChanged();
    return ok(budgetView(created), 201);
  });
  // Before /budgets/:id, which would take "brakes" for an id.
  admin.get("/budgets/brakes", async () => {
    const active = (await deps.brakes?.list()) ?? [];
    return ok(listView(active.map((b) => ({ object: "budget.brake", scope: b.scope, until: b.until.toISOString() }))));
  });
  admin.post("/budgets/brakes/reset", async (c) => {
    const { scope } = await parseJson(c, BrakeResetSchema);
    await deps.brakes?.reset(scope);
    return ok({ object: "budget.brake", scope, reset: true });
  });
  admin.get("/budgets/:id", async (c) => ok(budgetView(await requireBudget(c.req.param("id")))));
  admin.patch("/budgets/:id", async (c) => {
    const current = await requireBudget(c.req.param("id"));
    const patch = await parseJson(c, z.record(z.string(), z.unknown()));
    // The merged definition is validated whole, so a patch cannot leave an invalid budget behind.
    const merged = parseValue({ ...current.definition, ...patch }, BudgetSchema);
    const updated = await budgets.replace(current.id, merged);
    await budgetsChanged();
    return ok(budgetView(updated ?? current));
  });
  admin.delete("/budgets/:id", async (c) => {
    const id = c.req.param("id");
    await requireBudget(id);
    await budgets.delete(id);
    await budgetsChanged();
    return ok({ object: "budget", id, deleted: true });
  });

  app.route("/admin", admin);
}

function authorise(header: string | undefined, deps: AdminApiDeps): void {
  if (deps.masterKey === undefined) {
    throw new GatewayError(
      `The admin API is disabled: set the ${deps.masterKeyEnv ?? "TOLLGATE_MASTER_KEY"} environment variable to a master key and restart.`,
      { status: 503, type: "server_error", code: "admin_disabled" },
    );
  }
  const token = header?.match(/^bearer\s+(.+)$/i)?.[1]?.trim();
  if (!token) {
    throw new GatewayError("The admin API needs the master key: Authorization: Bearer <master key>.", {
      status: 401,
      type: "invalid_request_error",
      code: "invalid_api_key",
    });
  }
  if (secretsEqual(token, deps.masterKey)) return;
  if (token.startsWith("tg-")) {
    throw new GatewayError("The admin API accepts only the master key, not a team key.", {
      status: 403,
      type: "permission_error",
      code: "admin_only",
    });
  }
  throw new GatewayError(`Incorrect master key provided: ${maskKey(token)}.`, {
    status: 401,
    type: "invalid_request_error",
    code: "invalid_api_key",
  });
}

function keyPatch(body: z.infer<typeof KeyPatchSchema>): KeyPatch {
  const patch: KeyPatch = {};
  if (body.name !== undefined) patch.name = body.name;
  if (body.team_id !== undefined) patch.teamId = body.team_id;
  if (body.allowed_aliases !== undefined) patch.allowedAliases = body.allowed_aliases;
  if (body.rpm !== undefined) patch.rpm = body.rpm;
  if (body.tpm !== undefined) patch.tpm = body.tpm;
  if (body.priority !== undefined) patch.priority = body.priority;
  if (body.expires_at !== undefined) patch.expiresAt = body.expires_at === null ? null : Date.parse(body.expires_at);
  if (body.tags !== undefined) patch.tags = body.tags;
  if (body.enabled !== undefined) patch.enabled = body.enabled;
  return patch;
}

async function parseJson<S extends z.ZodType>(c: Context, schema: S, emptyAllowed = false): Promise<z.infer<S>> {
  const text = await c.req.text();
  if (emptyAllowed && text.trim() === "") return parseValue({}, schema);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest("We could not parse the JSON body of your request.", null, "invalid_json");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidRequest("The request body must be a JSON object.", null, "invalid_json");
  }
  return parseValue(value, schema);
}

/** A zod failure becomes a 400 naming the field (`Invalid value for 'rpm': ...`). */
function parseValue<S extends z.ZodType>(value: unknown, schema: S): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
  const param = formatPath(issue.path) || keys[0] || "";
  const what = issue.message.replace(/^Invalid input: /, "");
  const message =
    issue.code === "invalid_type" && what.endsWith("received undefined")
      ? `Missing required parameter: '${param}'.`
      : `Invalid value for '${param || "body"}': ${what}.`;
  throw invalidRequest(message, param || null, "invalid_value");
}

const JSON_HEADERS = { "content-type": "application/json" };

function ok(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });
}

function errorJson(err: unknown): Response {
  const { status, body, headers } = toOpenAIError(err);
  return new Response(JSON.stringify(body), { status, headers: { ...headers, ...JSON_HEADERS } });
}
