import { randomBytes } from "node:crypto";
import { generateKey } from "../../src/auth/key-format.js";

/** routes.yaml's `auth:` for org acme with teams blue and green, one key each (k-blue, k-green) read from the env. */
export const TWO_TEAMS_AUTH = `auth:
  orgs: [{ id: acme }]
  teams:
    - { id: blue, org: acme }
    - { id: green, org: acme }
  keys:
    - { id: k-blue, name: blue app, team: blue, key_env: BLUE_KEY }
    - { id: k-green, name: green app, team: green, key_env: GREEN_KEY }`;

export interface TwoTeamKeys {
  master: string;
  blue: string;
  green: string;
  /** What the gateway reads them from: TOLLGATE_MASTER_KEY and TWO_TEAMS_AUTH's key_env names. */
  env: Record<string, string>;
}

/** Fresh secrets for TWO_TEAMS_AUTH: the master key and a key of each team. */
export function twoTeamKeys(): TwoTeamKeys {
  const master = `mk-${randomBytes(16).toString("hex")}`;
  const blue = generateKey();
  const green = generateKey();
  return { master, blue, green, env: { TOLLGATE_MASTER_KEY: master, BLUE_KEY: blue, GREEN_KEY: green } };
}
