import type { Redis } from "ioredis";

/** 40 days: longer than any period an alert id names (a month), so a claim outlives the alert it dedupes. */
const CLAIM_TTL_S = 40 * 86_400;

/**
 * Alert deduplication across replicas: the first replica to SET NX an alert's id sends it, the others do not.
 * The id names the scope, period instance, threshold and kind, so a new period claims anew.
 */
export function redisAlertClaim(client: Redis, prefix = "tollgate:alert:"): (id: string) => Promise<boolean> {
  return async (id) => (await client.set(`${prefix}${id}`, "1", "EX", CLAIM_TTL_S, "NX")) === "OK";
}
