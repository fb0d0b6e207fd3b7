// Writes the config reference table (README "Configuration reference") from the zod schema.
import { configReference } from "../src/config/reference.js";
import { writeReadmeSection } from "./readme-section.js";

await writeReadmeSection("config-reference", configReference());
