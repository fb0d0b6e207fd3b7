// Guards: a semantic hit is served only when the two prompts agree on the details that a similarity score
// blurs. Two prompts can be 95% the same words and want different answers: "convert 5 kg to lb" and
// "convert 5 lb to kg", "learn C" and "learn C++", "is it safe" and "is it not safe".
//
// The rules (each feature is extracted from both prompts and must be equal):
// - numbers, as an ordered sequence (order matters: "10 divided by 2" is not "2 divided by 10"): digits with
//   decimals, thousands separators dropped ("1,000" = "1000"), versions ("3.11", "1.2.3"), a sign, a currency
//   before ("$5") and a unit after, attached or not ("5kg" = "5 kg" = "5 kilograms"); ordinals ("1st"); and
//   number words from two upwards ("two" = "2"; "one" is left out: "which one" is not a number);
// - units without a number ("kg to lb"), as an ordered sequence, with the same aliases;
// - quoted strings ("...", '...', `...`), as a multiset, case and content exact;
// - code identifiers: camelCase, PascalCase with an inner capital, snake_case, dotted.names (node.js,
//   os.path.join, input.txt), calls (`foo()`) and words mixing letters and digits (python3, gpt4). Each one
//   found in either prompt must appear as a word in the other, ignoring case: people type "JavaScript" and
//   "javascript" for the same thing, but "getUser" and "getUsers" are different names. Backticked code is
//   compared with the quoted strings;
// - URLs, emails and paths (/usr/bin, ./a/b, ~/x, C:\x), as a multiset;
// - symbol tokens, as a multiset: languages spelled with symbols (C++, C#, F#, .NET) and operators
//   (->, =>, ==, +, <, ...); sentence punctuation and dashes are not symbols;
// - negations, by count: not, no, never, none, nobody, nothing, nowhere, neither, nor, without, cannot, and
//   every contraction in n't;
// - content words (optional, on by default in SemanticCache): the sets of stemmed words other than function
//   words must be equal. Word order, articles, auxiliaries, case, punctuation and plurals may differ; an added,
//   dropped or swapped content word may not. Measured on QQP: without it, a 1% false-hit rate needs a
//   similarity threshold of 0.92 and leaves 2% of duplicates as hits; with it, 8% at 0.7. The hard negatives
//   are long questions that differ in one name ("...in Rome" / "...in Barcelona"), which cosine cannot see.
import { AMBIGUOUS_UNITS, CURRENCY_SIGNS, NEGATIONS, NUMBER_WORDS, UNIT_ALIASES } from "./guard-words.js";
import { contentWords, normalizeText, tokenizeNormalized } from "./tokenize.js";

export interface GuardFeatures {
  readonly numbers: readonly string[];
  readonly units: readonly string[];
  readonly quoted: readonly string[];
  /** Lowercased, without a trailing "()". */
  readonly identifiers: readonly string[];
  /** The prompt's lowercased words, to look the other prompt's identifiers up in. */
  readonly words: ReadonlySet<string>;
  /** Sorted distinct stems of the content words. */
  readonly content: readonly string[];
  readonly links: readonly string[];
  readonly symbols: readonly string[];
  readonly negations: number;
}

export interface GuardVerdict {
  readonly ok: boolean;
  /** Which rule failed, e.g. "numbers differ"; never quotes the prompts (it may be logged). */
  readonly reason?: string;
}

const NUMBER = /^\d+(?:,\d{3})*(?:\.\d+)*$/;
const NUMBER_WITH_UNIT = /^(\d+(?:,\d{3})*(?:\.\d+)*)([a-z%]+)$/;
const THOUSANDS = /,(?=\d{3})/g;
const LANGUAGE_SYMBOL = /^(?:[a-z]\w*(?:\+\+|#|\+)|\.[a-z]\w*)$/;
const OPERATOR = /^[-+*/=<>!&|^~%@#$\\:]+$/;
const PROSE_SYMBOLS = new Set(["-", "--", ":", "!", "&", "@", "#", "$", "€", "£", "¥", "₹", "/", "\\"]);

// Extraction from the case-kept, normalised text (identifiers and quotes are case-sensitive).
const QUOTED = /"([^"\n]{1,200})"|`([^`\n]{1,200})`|(?<![\p{L}\p{N}])'([^'\n]{1,200})'(?![\p{L}\p{N}])/gu;
const LINK =
  /https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]|\bwww\.[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]|[\w.%+-]+@[\w-]+(?:\.[\w-]+)+|(?<![\w/.])(?:~|\.{1,2})?\/[\w.-]+(?:\/[\w.-]+)+\/?|\b[A-Za-z]:\\[\w\\. -]+/g;
const IDENTIFIER =
  /\b[a-z]+[A-Z][A-Za-z0-9]*\b|\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b|\b[A-Za-z]\w*_\w+\b|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?|\b[A-Za-z_]\w*\(\)|\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z][A-Za-z0-9]*\b/g;
/** "e.g.", "i.e.", "U.S.": dotted, but abbreviations rather than names. */
const ABBREVIATION = /^(?:[A-Za-z]\.)*[A-Za-z]$/;
const CALL_SUFFIX = /\(\)$/;
const SIGN_CONTEXT = /^[=([{,:;<>*/+^]+$/;

/** Extracts the features the guards compare; store them with an entry instead of its prompt. */
export function extractGuardFeatures(prompt: string): GuardFeatures {
  const text = normalizeText(prompt);
  const quoted = [...text.matchAll(QUOTED)].map((m) => (m[1] ?? m[2] ?? m[3] ?? "").trim());
  const links = [...text.matchAll(LINK)].map((m) => m[0].toLowerCase());
  // Links are removed first so that their parts (example.com, ~/) do not count again as names or symbols.
  const rest = text.replace(LINK, " ");
  const tokens = tokenizeNormalized(rest);
  const { numbers, units, symbols, negations, words } = scanTokens(tokens);
  const identifiers = [...rest.matchAll(IDENTIFIER)]
    .map((m) => m[0])
    .filter((id) => !ABBREVIATION.test(id))
    .map((id) => id.replace(CALL_SUFFIX, "").toLowerCase());
  // Numbers and units have their own canonical rules, so "10 kg" and "10 kilograms" keep the same content words.
  const content = contentWords(words);
  return { numbers, units, quoted, identifiers, words: new Set(tokens), content, links, symbols, negations };
}

interface TokenFeatures {
  numbers: string[];
  units: string[];
  symbols: string[];
  negations: number;
  /** The tokens that are not part of a number or a unit. */
  words: string[];
}

function scanTokens(tokens: readonly string[]): TokenFeatures {
  const found: TokenFeatures = { numbers: [], units: [], symbols: [], negations: 0, words: [] };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const next = tokens[i + 1];
    const number = numberValue(token);
    if (number !== undefined) {
      // Hyphens are their own tokens: "= -3" is negative, "gpt-4" and "2-3" are not.
      const sign = tokens[i - 1] === "-" && isSignPosition(tokens[i - 2]) ? "-" : "";
      const currency = i > 0 && CURRENCY_SIGNS.has(tokens[i - 1] as string) ? (tokens[i - 1] as string) : "";
      const attached = NUMBER_WITH_UNIT.exec(token)?.[2];
      if (attached === undefined && next === "°") {
        // "25 °C", "25°F": the scale letter comes as its own token after the degree sign.
        const scale = tokens[i + 2] ?? "";
        found.numbers.push(`${sign}${currency}${number}°${UNIT_ALIASES.get(scale) ?? ""}`);
        i += UNIT_ALIASES.get(scale) === undefined ? 1 : 2;
        continue;
      }
      const unitAfter = attached === undefined && next !== undefined ? UNIT_ALIASES.get(next) : undefined;
      const unit = attached !== undefined ? (UNIT_ALIASES.get(attached) ?? attached) : (unitAfter ?? "");
      found.numbers.push(`${sign}${currency}${number}${unit}`);
      if (unitAfter !== undefined) i++;
      continue;
    }
    if (token === "°" && next !== undefined && UNIT_ALIASES.get(next) !== undefined) {
      found.units.push(`°${UNIT_ALIASES.get(next)}`); // "from °C to °F"
      i++;
      continue;
    }
    const unit = UNIT_ALIASES.get(token);
    if (unit !== undefined && !AMBIGUOUS_UNITS.has(token)) {
      found.units.push(unit);
      continue;
    }
    if (CURRENCY_SIGNS.has(token) && next !== undefined && numberValue(next) !== undefined) continue;
    found.words.push(token);
    if (NEGATIONS.has(token) || token.endsWith("n't")) found.negations++;
    if (LANGUAGE_SYMBOL.test(token) || (OPERATOR.test(token) && !PROSE_SYMBOLS.has(token))) {
      found.symbols.push(token);
    }
  }
  return found;
}

/** A minus after nothing, an operator or an opening bracket is a sign, not a hyphen or a range. */
function isSignPosition(before: string | undefined): boolean {
  return before === undefined || SIGN_CONTEXT.test(before);
}

/** The canonical text of a number token (digits, or a number word), or undefined for anything else. */
function numberValue(token: string): string | undefined {
  if (NUMBER.test(token)) return token.replace(THOUSANDS, "");
  const withUnit = NUMBER_WITH_UNIT.exec(token);
  if (withUnit) return (withUnit[1] as string).replace(THOUSANDS, "");
  return NUMBER_WORDS.get(token);
}

function sameSequence(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameMultiset(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  return sameSequence([...a].sort(), [...b].sort());
}

export interface GuardOptions {
  /** Also require the same content words (see the rules above). Default true. */
  readonly contentWords?: boolean;
}

/** Compares features extracted earlier; the first rule that fails names the reason. */
export function compareGuardFeatures(a: GuardFeatures, b: GuardFeatures, options: GuardOptions = {}): GuardVerdict {
  if (!sameSequence(a.numbers, b.numbers)) return { ok: false, reason: "numbers differ" };
  if (!sameSequence(a.units, b.units)) return { ok: false, reason: "units differ" };
  if (a.negations !== b.negations) return { ok: false, reason: "negations differ" };
  if (!sameMultiset(a.symbols, b.symbols)) return { ok: false, reason: "symbols differ" };
  if (!sameMultiset(a.quoted, b.quoted)) return { ok: false, reason: "quoted strings differ" };
  if (!a.identifiers.every((id) => b.words.has(id)) || !b.identifiers.every((id) => a.words.has(id))) {
    return { ok: false, reason: "identifiers differ" };
  }
  if (!sameMultiset(a.links, b.links)) return { ok: false, reason: "links differ" };
  if (options.contentWords !== false && !sameSequence(a.content, b.content)) {
    return { ok: false, reason: "content words differ" };
  }
  return { ok: true };
}

/** A key equal for two prompts whose content words match: entries are grouped by it, so a lookup skips the rest. */
export function contentKey(features: GuardFeatures): string {
  return features.content.join(" ");
}

/** Whether prompt `b` may be answered with the cached answer to prompt `a` as far as the guards can tell. */
export function guardsMatch(a: string, b: string, options: GuardOptions = {}): GuardVerdict {
  return compareGuardFeatures(extractGuardFeatures(a), extractGuardFeatures(b), options);
}
