// Prints the config reference table (README "Configuration reference") from the zod schema.
import { configReference } from "../src/config/reference.js";

process.stdout.write(`${configReference()}\n`);
