// Runs the Anthropic or Gemini mock upstream in its own process (for the bench): prints its port on stdout.
// `node --import tsx test/mocks/serve-native.ts <anthropic|gemini>`; exits on SIGTERM.
import { startAnthropicMock } from "./anthropic.js";
import { startGeminiMock } from "./gemini.js";

const kind = process.argv[2];
if (kind !== "anthropic" && kind !== "gemini") {
  process.stderr.write("usage: serve-native.ts <anthropic|gemini>\n");
  process.exit(2);
}
const mock = kind === "anthropic" ? await startAnthropicMock() : await startGeminiMock();
// These mocks log every request for the tests; the bench sends hundreds of thousands, so keep none.
Object.defineProperty(mock.requests, "push", { value: () => 0 });
process.stdout.write(`${new URL(mock.url).port}\n`);
process.on("SIGTERM", () => void mock.close().then(() => process.exit(0)));
