import type { Context } from "hono";
import { type KeyService, secretsEqual } from "../auth/index.js";
import { GatewayError } from "../errors.js";

/** Who may read what: undefined team = everything (the master key, or no auth). */
export interface Reader {
  teamId: string | undefined;
}

export interface ReaderAuth {
  /** With auth on, every read needs a key: a team key reads only its team's data, the master key any. */
  keys?: KeyService | undefined;
  masterKey?: string | undefined;
}

/** Resolves the caller of a read endpoint, or throws the 401 of an unknown, expired or revoked key. */
export function readerOf(auth: ReaderAuth): (c: Context) => Promise<Reader> {
  return async (c) => {
    if (auth.keys === undefined) return { teamId: undefined };
    const header = c.req.header("authorization");
    const presented = header?.replace(/^Bearer\s+/i, "");
    if (auth.masterKey && presented && secretsEqual(presented, auth.masterKey)) return { teamId: undefined };
    const key = await auth.keys.authenticate(header);
    return { teamId: key.teamId };
  };
}

/**
 * The team a read covers: a team key's own (asking for another team is a 403 naming `what` it reads), otherwise
 * the team asked for, undefined meaning every team.
 */
export function readableTeam(reader: Reader, asked: string | undefined, what: string): string | undefined {
  const own = reader.teamId;
  if (own === undefined) return asked;
  if (asked !== undefined && asked !== own) {
    throw new GatewayError(`A key of team '${own}' can read only its own team's ${what}.`, {
      status: 403,
      type: "permission_error",
      param: "team",
      code: "team_forbidden",
    });
  }
  return own;
}
