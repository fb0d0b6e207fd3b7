// Runs the OpenAI mock upstream in its own process (for the bench): prints its port on stdout.
import { startOpenAIMock } from "./openai.js";

const port = Number(process.argv[2] ?? 0);
const chunks = Number(process.argv[3] ?? 20);
const mock = await startOpenAIMock({ port, chunks, record: false });
process.stdout.write(`${mock.port}\n`);
process.on("SIGTERM", () => void mock.close().then(() => process.exit(0)));
