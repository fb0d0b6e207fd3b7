import { baseModelName } from "./encoding.js";

export interface ImageSize {
  width: number;
  height: number;
}

export type ImageDetail = "low" | "high" | "auto";

// When the size is unknown (an http URL we do not fetch), assume the most expensive high-detail shape:
// 768x2048 after scaling = 2x4 tiles (1445 tokens on gpt-4o). The budget stage reserves this upper bound; the
// count is then marked inexact.
export const ASSUMED_UNKNOWN_IMAGE: ImageSize = { width: 768, height: 2048 };

type ImageRule = { kind: "tiles"; base: number; tile: number } | { kind: "patches"; multiplier: number };

// https://platform.openai.com/docs/guides/images-vision#calculating-costs. Tile models: low = base; high = base +
// tile x 512px tiles after fitting 2048x2048 and scaling the short side to 768. Patch models: 32px patches
// (capped at 1536) x a multiplier; detail does not apply. Longest matching prefix wins.
const IMAGE_RULES: Array<[string, ImageRule]> = [
  ["gpt-4o-mini", { kind: "tiles", base: 2833, tile: 5667 }],
  ["gpt-4.1-mini", { kind: "patches", multiplier: 1.62 }],
  ["gpt-4.1-nano", { kind: "patches", multiplier: 2.46 }],
  ["gpt-5-mini", { kind: "patches", multiplier: 1.62 }],
  ["gpt-5-nano", { kind: "patches", multiplier: 2.46 }],
  ["o4-mini", { kind: "patches", multiplier: 1.72 }],
  ["gpt-5", { kind: "tiles", base: 70, tile: 140 }],
  ["o1", { kind: "tiles", base: 75, tile: 150 }],
  ["o3", { kind: "tiles", base: 75, tile: 150 }],
];
const DEFAULT_RULE: ImageRule = { kind: "tiles", base: 85, tile: 170 }; // gpt-4o, gpt-4.1, gpt-4.5, gpt-4-turbo

function imageRule(model: string): ImageRule {
  const name = baseModelName(model);
  for (const [prefix, rule] of IMAGE_RULES) if (name.startsWith(prefix)) return rule;
  return DEFAULT_RULE;
}

/** Tokens for one image part. "auto" is counted as "high" (the upper bound; OpenAI picks per image). */
export function imageTokens(model: string, detail: ImageDetail, size: ImageSize): number {
  const rule = imageRule(model);
  if (rule.kind === "patches") return Math.ceil(patchCount(size) * rule.multiplier);
  if (detail === "low") return rule.base;
  let { width, height } = size;
  if (width > 2048 || height > 2048) {
    const scale = 2048 / Math.max(width, height);
    width = Math.floor(width * scale);
    height = Math.floor(height * scale);
  }
  // Only scales down: an image whose short side is under 768 keeps its size.
  const shortSide = Math.min(width, height);
  if (shortSide > 768) {
    const scale = 768 / shortSide;
    width = Math.floor(width * scale);
    height = Math.floor(height * scale);
  }
  return rule.base + rule.tile * Math.ceil(width / 512) * Math.ceil(height / 512);
}

const MAX_PATCHES = 1536;

function patchCount({ width, height }: ImageSize): number {
  const patches = Math.ceil(width / 32) * Math.ceil(height / 32);
  if (patches <= MAX_PATCHES) return patches;
  // Shrink so the patches fit the cap, then so a whole number of patches spans the width or height.
  let shrink = Math.sqrt((32 * 32 * MAX_PATCHES) / (width * height));
  shrink *= Math.min(
    Math.floor((width * shrink) / 32) / ((width * shrink) / 32),
    Math.floor((height * shrink) / 32) / ((height * shrink) / 32),
  );
  return Math.min(MAX_PATCHES, Math.ceil((width * shrink) / 32) * Math.ceil((height * shrink) / 32));
}

const DATA_URL_HEAD = /^data:image\/[a-z0-9.+-]+;base64,/i;

/**
 * Width and height from a base64 data URL's header bytes (PNG, GIF, WebP, JPEG); decodes at most ~48 KB of
 * base64 (JPEG's SOF marker can follow large EXIF blocks). Undefined when the format or header is not understood.
 */
export function imageSizeFromDataUrl(url: string): ImageSize | undefined {
  const head = DATA_URL_HEAD.exec(url);
  if (!head) return undefined;
  const start = head[0].length;
  const bytes = Buffer.from(url.slice(start, start + 65_536), "base64");
  return imageSizeFromBytes(bytes);
}

export function imageSizeFromBytes(b: Buffer): ImageSize | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString("latin1", 12, 16) === "IHDR") {
    return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 10 && b.toString("latin1", 0, 3) === "GIF") {
    return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 30 && b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WEBP") {
    return webpSize(b);
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b);
  return undefined;
}

function webpSize(b: Buffer): ImageSize | undefined {
  const chunk = b.toString("latin1", 12, 16);
  if (chunk === "VP8X") return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
  if (chunk === "VP8L") {
    const bits = b.readUInt32LE(21);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  if (chunk === "VP8 ") return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  return undefined;
}

function jpegSize(b: Buffer): ImageSize | undefined {
  let offset = 2;
  while (offset + 9 < b.length) {
    if (b[offset] !== 0xff) return undefined;
    const marker = b[offset + 1] ?? 0;
    // SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: b.readUInt16BE(offset + 7), height: b.readUInt16BE(offset + 5) };
    }
    offset += 2 + b.readUInt16BE(offset + 2);
  }
  return undefined;
}
