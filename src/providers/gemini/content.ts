import { invalidRequest } from "../../errors.js";
import type { ChatMessage } from "../../openai/schema.js";
import type { GeminiPart } from "./native.js";

type ContentPart = { type: string; [key: string]: unknown };

const MIME_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
};

/** The text of a message's content, whether a string or an array of text parts. */
export function textOf(content: ChatMessage["content"], param: string): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  return content
    .map((part, i) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw invalidRequest(`Expected only text parts here, got '${part.type}'`, `${param}[${i}]`);
      }
      return part.text;
    })
    .join("");
}

/** A user message's content as Gemini parts: text, images (data URL or https), audio and files as inline data. */
export function partsOf(content: ChatMessage["content"], param: string): GeminiPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === "string") return [{ text: content }];
  return content.map((part, i) => partOf(part as ContentPart, `${param}[${i}]`));
}

function partOf(part: ContentPart, param: string): GeminiPart {
  switch (part.type) {
    case "text":
      return { text: String(part.text ?? "") };
    case "image_url": {
      const image = part.image_url as { url?: unknown } | string | undefined;
      const url = typeof image === "string" ? image : image?.url;
      if (typeof url !== "string") throw invalidRequest("Expected image_url.url to be a string", param);
      return mediaPart(url, param);
    }
    case "input_audio": {
      const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      if (typeof audio?.data !== "string") throw invalidRequest("Expected input_audio.data", param);
      return { inlineData: { mimeType: `audio/${String(audio.format ?? "wav")}`, data: audio.data } };
    }
    case "file": {
      const file = part.file as { file_data?: unknown } | undefined;
      if (typeof file?.file_data !== "string") {
        throw invalidRequest("Gemini providers take files as file_data (a data URL) only, not file_id", param);
      }
      return mediaPart(file.file_data, param);
    }
    default:
      throw invalidRequest(`Content part type '${part.type}' is not supported by Gemini providers`, param);
  }
}

/** A data URL becomes inline bytes; an https URL a file reference Gemini fetches itself. */
function mediaPart(url: string, param: string): GeminiPart {
  if (url.startsWith("data:")) {
    const m = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
    if (!m) throw invalidRequest("Expected a base64 data URL (data:<mime>;base64,<data>)", param);
    return { inlineData: { mimeType: m[1] as string, data: m[2] as string } };
  }
  if (url.startsWith("https://")) {
    const path = url.split(/[?#]/)[0] as string;
    const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
    return { fileData: { mimeType: MIME_BY_EXTENSION[ext] ?? "image/jpeg", fileUri: url } };
  }
  throw invalidRequest("Gemini providers take images as data URLs or https URLs", param);
}

/**
 * A JSON Schema as Gemini's Schema (an OpenAPI subset) takes it. Only what cannot change the meaning is
 * removed: `$schema`, and `additionalProperties: false` (which OpenAI's strict mode requires and Gemini rejects,
 * while Gemini never adds undeclared properties anyway).
 */
export function toGeminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGeminiSchema);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$schema" || (key === "additionalProperties" && value === false)) continue;
    out[key] = key === "properties" ? mapValues(value) : toGeminiSchema(value);
  }
  return out;
}

function mapValues(properties: unknown): unknown {
  if (typeof properties !== "object" || properties === null) return properties;
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(properties)) out[name] = toGeminiSchema(schema);
  return out;
}
