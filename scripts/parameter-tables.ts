// Prints the providers' parameter tables (README "Parameter tables") from their declarative tables.
import { parameterTables } from "../src/providers/docs.js";

process.stdout.write(`${parameterTables()}\n`);
