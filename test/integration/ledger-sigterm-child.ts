// Child process for ledger-sigterm.test.ts: records under steady load until SIGTERM, then closes the ledger
// (what main.ts does on shutdown) and prints how many it recorded. Args: dialect, run id, sqlite path or schema.
import { join } from "node:path";
import { openStore } from "../../src/store/index.js";
import { UsageLedger } from "../../src/usage/index.js";
import { PG_URL, usageRecord } from "./harness.js";

const [dialect, run, where, spoolDir] = process.argv.slice(2) as [string, string, string, string];
const store =
  dialect === "postgres" ? openStore({ databaseUrl: PG_URL, pgSchema: where }) : openStore({ sqlitePath: where });
await store.migrate();
const ledger = await UsageLedger.open({ store, spoolDir: join(spoolDir, "spool"), flushIntervalMs: 200 });

let recorded = 0;
const timer = setInterval(() => {
  for (let i = 0; i < 200; i++) ledger.record(usageRecord({ requestId: `${run}-${recorded++}`, keyId: run }));
}, 1);

process.once("SIGTERM", async () => {
  clearInterval(timer);
  await ledger.close();
  process.stdout.write(`recorded ${recorded}\n`);
  process.exit(0);
});
process.stdout.write("ready\n");
