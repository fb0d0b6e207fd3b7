const USAGE_KEY = '"usage"';

/**
 * A chat completion's JSON with `"cost":<usd>` added as the first field of its top-level usage object, every
 * other byte as it came. The last `"usage"` key is the top-level one: OpenAI writes usage last, string values
 * cannot hold an unescaped quote, and translating providers write usage last too. Undefined if there is none.
 */
export function withUsageCost(body: string | Uint8Array, costUsd: number): string | undefined {
  const text = typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString();
  const key = text.lastIndexOf(USAGE_KEY);
  if (key === -1) return undefined;
  let i = key + USAGE_KEY.length;
  while (text.charCodeAt(i) <= 0x20) i++;
  if (text.charCodeAt(i) !== 0x3a) return undefined; // ':'
  i++;
  while (text.charCodeAt(i) <= 0x20) i++;
  if (text.charCodeAt(i) !== 0x7b) return undefined; // '{' (not "usage": null)
  let j = i + 1;
  while (text.charCodeAt(j) <= 0x20) j++;
  const empty = text.charCodeAt(j) === 0x7d;
  return `${text.slice(0, i + 1)}"cost":${JSON.stringify(costUsd)}${empty ? "" : ","}${text.slice(i + 1)}`;
}
