// Writes the providers' parameter tables (README "Parameter tables") from their declarative tables.
import { parameterTables } from "../src/providers/docs.js";
import { writeReadmeSection } from "./readme-section.js";

await writeReadmeSection("parameter-tables", parameterTables());
