/** The routes.yaml head the key, budget and limit tests share: one gpt-4o-mini alias on the metered mock. */
export function meteredModels(mockUrl: string): string {
  return `providers:
  metered:
    type: openai-compatible
    base_url: ${mockUrl}
models:
  mini:
    deployments:
      - provider: metered
        model: gpt-4o-mini`;
}
