import { hash } from "node:crypto";

const MESSAGES_KEY = '"messages"';
const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;

/**
 * The ledger's prompt fingerprint: SHA-1 (base64url) of the `messages` array exactly as the client sent it, so
 * requests differing only in `user`, `stream` or `metadata` still count as the same prompt. Read from the raw
 * body, not the parsed request: no re-serialisation, and string contents are skipped with indexOf. Not the cache
 * key (that one exists only for cached aliases, and only for requests the cache does not bypass).
 */
export function promptFingerprint(rawBody: string): string | undefined {
  if (rawBody.length === 0) return undefined;
  return hash("sha1", messagesSpan(rawBody) ?? rawBody, "base64url");
}

/** The `[...]` after the first `"messages":`, or undefined when the body is not shaped so. */
export function messagesSpan(body: string): string | undefined {
  const at = body.indexOf(MESSAGES_KEY);
  if (at < 0) return undefined;
  let i = skipSpace(body, at + MESSAGES_KEY.length);
  if (body.charCodeAt(i) !== COLON) return undefined;
  i = skipSpace(body, i + 1);
  if (body.charCodeAt(i) !== OPEN_ARRAY) return undefined;
  const start = i;
  let depth = 0;
  for (; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(body, i + 1);
      if (i < 0) return undefined;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && --depth === 0) return body.slice(start, i + 1);
  }
  return undefined;
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && s.charCodeAt(i) <= 32) i++;
  return i;
}

/** Index of the quote closing a string whose content starts at `from`; a quote after an odd run of backslashes is escaped. */
function closingQuote(s: string, from: number): number {
  let q = s.indexOf('"', from);
  while (q >= 0) {
    let backslashes = 0;
    for (let j = q - 1; s.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if ((backslashes & 1) === 0) return q;
    q = s.indexOf('"', q + 1);
  }
  return -1;
}
