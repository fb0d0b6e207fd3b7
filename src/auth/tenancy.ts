import type { ChangeEvent } from "./bus.js";
import { badValue, conflict, notFound } from "./errors.js";
import type { AuthRecords, OrgInfo, Source, TeamInfo } from "./records.js";

/** Orgs and teams: the hierarchy keys belong to. Changes that move keys are published like key changes. */
export class Tenancy {
  constructor(
    private readonly records: AuthRecords,
    private readonly publish: (event: ChangeEvent) => Promise<void>,
    private readonly now: () => number,
  ) {}

  async createOrg(input: { id: string; name?: string }, source: Source = "api"): Promise<OrgInfo> {
    if (await this.records.org(input.id)) throw conflict(`An org with id '${input.id}' exists.`, "id");
    await this.records.upsertOrg({ id: input.id, name: input.name ?? input.id, source, createdAt: this.now() }, true);
    return this.requireOrg(input.id);
  }

  listOrgs(): Promise<OrgInfo[]> {
    return this.records.orgs();
  }

  async requireOrg(id: string, param?: string): Promise<OrgInfo> {
    const org = await this.records.org(id);
    if (org === undefined)
      throw param ? badValue(`Invalid value for '${param}': unknown org '${id}'.`, param) : notFound("org", id);
    return org;
  }

  async updateOrg(id: string, patch: { name?: string }): Promise<OrgInfo> {
    if (!(await this.records.updateOrg(id, patch))) throw notFound("org", id);
    return this.requireOrg(id);
  }

  /** Refused while the org has teams: deleting them first is explicit about what stops working. */
  async deleteOrg(id: string): Promise<void> {
    await this.requireOrg(id);
    const teams = await this.records.teams({ orgId: id });
    if (teams.length) throw conflict(`The org '${id}' still has teams: ${teams.map((t) => t.id).join(", ")}.`);
    await this.records.deleteOrg(id);
  }

  async createTeam(input: { id: string; orgId: string; name?: string }, source: Source = "api"): Promise<TeamInfo> {
    await this.requireOrg(input.orgId, "org_id");
    if (await this.records.team(input.id)) throw conflict(`A team with id '${input.id}' exists.`, "id");
    const team = { id: input.id, orgId: input.orgId, name: input.name ?? input.id, source, createdAt: this.now() };
    await this.records.upsertTeam(team, true);
    return this.requireTeam(input.id);
  }

  listTeams(filter: { orgId?: string } = {}): Promise<TeamInfo[]> {
    return this.records.teams(filter);
  }

  async requireTeam(id: string, param?: string): Promise<TeamInfo> {
    const team = await this.records.team(id);
    if (team === undefined)
      throw param ? badValue(`Invalid value for '${param}': unknown team '${id}'.`, param) : notFound("team", id);
    return team;
  }

  /** Moving a team to another org moves its keys: their cached identities are dropped everywhere. */
  async updateTeam(id: string, patch: { name?: string; orgId?: string }): Promise<TeamInfo> {
    await this.requireTeam(id);
    if (patch.orgId !== undefined) await this.requireOrg(patch.orgId, "org_id");
    await this.records.updateTeam(id, patch);
    if (patch.orgId !== undefined) {
      for (const key of await this.records.keys({ teamId: id })) await this.publish({ kind: "key", id: key.id });
    }
    return this.requireTeam(id);
  }

  /** Refused while the team has keys, for the same reason as deleteOrg. */
  async deleteTeam(id: string): Promise<void> {
    await this.requireTeam(id);
    const keys = await this.records.keys({ teamId: id });
    if (keys.length) throw conflict(`The team '${id}' still has keys: ${keys.map((k) => k.id).join(", ")}.`);
    await this.records.deleteTeam(id);
  }
}
