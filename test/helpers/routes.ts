import { createServer } from "node:net";

export const UPSTREAM_KEY = "sk-upstream-secret-0123456789";

/** A port nothing listens on: for "upstream down". */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** routes.yaml for the e2e tests: one alias per behaviour of the mock upstream. */
export function testRoutes(upstreamUrl: string, downPort: number): string {
  return `
server:
  body_limit: 64kb
providers:
  upstream:
    type: openai-compatible
    base_url: ${upstreamUrl}
    api_key: ${UPSTREAM_KEY}
    headers:
      OpenAI-Organization: org-test
  impatient:
    type: openai-compatible
    base_url: ${upstreamUrl}
    timeouts:
      first_byte_ms: 300
  narrow:
    type: openai-compatible
    base_url: ${upstreamUrl}
    max_connections: 1
  down:
    type: openai-compatible
    base_url: http://127.0.0.1:${downPort}/v1
  openai:
    type: openai
    api_key: \${OPENAI_API_KEY}
models:
  chat:
    deployments:
      - provider: upstream
        model: gpt-4o-mini
  gpt-4o-mini:
    deployments:
      - provider: upstream
        model: gpt-4o-mini
  rate-limited:
    deployments: [{ provider: upstream, model: mock-429 }]
  broken:
    deployments: [{ provider: upstream, model: mock-500 }]
  picky:
    deployments: [{ provider: upstream, model: mock-400 }]
  html-error:
    deployments: [{ provider: upstream, model: mock-text-error }]
  slow-stream:
    deployments: [{ provider: upstream, model: mock-slow-stream }]
  cut-stream:
    deployments: [{ provider: upstream, model: mock-cut-stream }]
  hang:
    deployments: [{ provider: impatient, model: mock-hang }]
  hang-long:
    deployments: [{ provider: upstream, model: mock-hang }]
  offline:
    deployments: [{ provider: down, model: gpt-4o-mini }]
  stuck:
    deployments: [{ provider: narrow, model: mock-hang }]
  unconfigured:
    deployments: [{ provider: openai, model: gpt-4o }]
  embed:
    deployments: [{ provider: upstream, model: text-embedding-3-small }]
  split:
    deployments:
      - { provider: upstream, model: split-a, weight: 3 }
      - { provider: upstream, model: split-b, weight: 1 }
      - { provider: openai, model: never-without-key, weight: 100 }
`;
}

/**
 * routes.yaml for the semantic cache tests: alias `sem` over `upstreamUrl` with both cache tiers on; `embedder`
 * (YAML) replaces the default n-gram embedder.
 */
export function semanticRoutes(upstreamUrl: string, verifyShare: number, embedder?: string): string {
  const embedderField = embedder === undefined ? "" : `, embedder: ${embedder}`;
  return `
providers:
  up: { type: openai-compatible, base_url: "${upstreamUrl}" }
models:
  sem:
    cache: { enabled: true, semantic: true }
    deployments: [{ provider: up, model: gpt-4o-mini }]
cache:
  semantic: { verify_share: ${verifyShare}${embedderField} }
`;
}
