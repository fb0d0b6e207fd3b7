import type { KeyService } from "../../auth/index.js";
import type { NamedStage } from "../compose.js";

/** Who is calling: the key's org, team and key (and the request's `user`), and whether it may use the alias. */
export function authStage(keys: KeyService): NamedStage {
  return {
    name: "auth",
    run: async (ctx, next) => {
      const key = await keys.authenticate(ctx.authorization);
      keys.checkAlias(key, ctx.alias);
      const endUser = ctx.chat?.user ?? ctx.embeddings?.user;
      ctx.key = key;
      ctx.identity = endUser === undefined ? key.identity : { ...key.identity, endUser };
      return next();
    },
  };
}
