// Runs a native-format mock upstream in its own process (for the bench): prints its port on stdout.
// `node --import tsx test/mocks/serve-native.ts <anthropic|gemini|bedrock>`; exits on SIGTERM.
import { startAnthropicMock } from "./anthropic.js";
import { startBedrockMock } from "./bedrock.js";
import { startGeminiMock } from "./gemini.js";

const STARTERS = { anthropic: startAnthropicMock, gemini: startGeminiMock, bedrock: startBedrockMock };
const kind = process.argv[2];
if (kind === undefined || !(kind in STARTERS)) {
  process.stderr.write("usage: serve-native.ts <anthropic|gemini|bedrock>\n");
  process.exit(2);
}
const mock = await STARTERS[kind as keyof typeof STARTERS]();
// These mocks log every request for the tests; the bench sends hundreds of thousands, so keep none.
Object.defineProperty(mock.requests, "push", { value: () => 0 });
process.stdout.write(`${new URL(mock.url).port}\n`);
process.on("SIGTERM", () => void mock.close().then(() => process.exit(0)));
