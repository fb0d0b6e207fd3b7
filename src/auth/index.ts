export { type AliasMatcher, compileAliasMatcher } from "./aliases.js";
export {
  CHANGES_CHANNEL,
  type ChangeBus,
  type ChangeEvent,
  type ChangeListener,
  createChangeBus,
  LocalChangeBus,
  RedisChangeBus,
} from "./bus.js";
export { type AuthConfig, AuthConfigSchema, isAuthEnabled, masterKeyFrom, syncDeclared } from "./config.js";
export { generateKey, hashKey, KEY_PREFIX, maskKey, secretsEqual } from "./key-format.js";
export type { KeyInfo, OrgInfo, Priority, Tags, TeamInfo } from "./records.js";
export { PRIORITIES } from "./records.js";
export { type AuthedKey, type KeyInput, type KeyPatch, KeyService, type KeyServiceOptions } from "./service.js";
export { Tenancy } from "./tenancy.js";
