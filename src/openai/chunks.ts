import type { Usage } from "./schema.js";

/**
 * What every chunk of one streamed answer shares (id, created, model), and the two kinds of chunk an OpenAI
 * stream carries: a choice's delta, and the closing usage chunk. Used by every translating provider.
 */
export class ChunkEnvelope {
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    public id: string,
    public model: string,
  ) {}

  choice(delta: object, finishReason: string | null = null, index = 0): object {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices: [{ index, delta, logprobs: null, finish_reason: finishReason }],
    };
  }

  /** The closing usage chunk; `cost` (USD) goes into usage.cost when known. */
  usage(usage: Usage, cost?: number): object {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      choices: [],
      usage: cost === undefined ? usage : { ...usage, cost },
    };
  }
}
