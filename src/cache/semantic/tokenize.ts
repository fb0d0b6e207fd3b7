// Tokenizer for the semantic cache: lowercase words that keep the symbols which change a question's meaning.
// "C", "C++" and "C#" are three tokens, as are ".net", "node.js", "3.11", "don't" and "->": a tokenizer that
// splits on punctuation would make "learn C" and "learn C++" the same question.

/**
 * One token, in match order:
 * 1. URLs and emails, whole;
 * 2. words and numbers, with inner `.`, `'` and `_` joints (node.js, 3.11, don't, snake_case) and thousands
 *    separators (1,000); a hyphen splits ("machine-learning" is "machine learning", "gpt-4" is "gpt 4"),
 *    an optional leading `.` (.net) and trailing `++`, `+` or `#` (c++, c#, f#);
 * 3. runs of other symbols (->, ==, !=, $), except sentence punctuation, which is one token per character so that
 *    "10%," gives "%" and ",".
 */
const TOKEN =
  /https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]]|[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+|(?:(?<![\p{L}\p{N}_])\.)?[\p{L}\p{N}_]+(?:['.][\p{L}\p{N}_]+|(?<=\d),\d{3}(?!\d))*(?:\+\+|#(?![\p{L}\p{N}_])|\+(?![\p{L}\p{N}_]))?|[^\s\p{L}\p{N}_.,;:?"'()[\]{}]+|[^\s]/gu;

/** Sentence punctuation: the embedder and the content-word guard drop it. */
const PUNCTUATION = /^[.,;:!?¿¡"'`()[\]{}…—–-]+$/u;

const CURLY_QUOTES = /[\u2018\u2019\u201A\u201B\u2032]/g;
const CURLY_DOUBLE_QUOTES = /[\u201C\u201D\u201E\u201F\u2033]/g;
const SPACES = /\s+/g;

/** NFKC, straight quotes, single spaces, trimmed; case is kept (the guards need it, the embedder lowercases). */
export function normalizeText(text: string): string {
  return text
    .normalize("NFKC")
    .replace(CURLY_QUOTES, "'")
    .replace(CURLY_DOUBLE_QUOTES, '"')
    .replace(SPACES, " ")
    .trim();
}

/** Lowercased tokens of already normalised text, punctuation included. */
export function tokenizeNormalized(normalized: string): string[] {
  return normalized.toLowerCase().match(TOKEN) ?? [];
}

/** Lowercased tokens of `text`: words, numbers and symbol runs (C++, C#, .net and node.js survive whole). */
export function tokenize(text: string): string[] {
  return tokenizeNormalized(normalizeText(text));
}

/** Whether a token is only sentence punctuation (a "?", a "," or a dash between words). */
export function isPunctuation(token: string): boolean {
  return PUNCTUATION.test(token);
}

// Question words stay out of this list on purpose: "what is X" and "why is X" are different questions.
/** Function words: they shape a sentence but say little about what it asks. */
export const FUNCTION_WORDS: ReadonlySet<string> = new Set(
  (
    "a an the is are was were be been being am do does did to of in on at by for with from as and or but if " +
    "then so than that this these those it its i me my we our you your he she they them their his her " +
    "can could should would will shall may might must have has had get got there here some any about into " +
    "up out over also just very really please what's it's there's"
  ).split(" "),
);

const POSSESSIVE = /'s$|s'$/;

/**
 * A deliberately small stemmer: possessives, plurals and the commonest verb endings, so that "developers" and
 * "developer's", "studying" and "study" meet. It over-stems now and then ("news" -> "new"); both prompts are
 * stemmed alike, so that only costs a rare false match of two words, never a missed exact one.
 */
export function stemWord(word: string): string {
  const w = word.replace(POSSESSIVE, "");
  if (w.length > 4 && w.endsWith("ies")) return `${w.slice(0, -3)}y`;
  if (w.length > 5 && w.endsWith("ing")) return w.slice(0, -3);
  if (w.length > 4 && w.endsWith("ed")) return w.slice(0, -2);
  if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) return w.slice(0, -1);
  if (w.length > 4 && w.endsWith("e")) return w.slice(0, -1);
  return w;
}

/** The distinct stems of a prompt's content words (no punctuation, no function words), sorted. */
export function contentWords(tokens: readonly string[]): string[] {
  const stems = new Set<string>();
  for (const token of tokens) {
    if (!isPunctuation(token) && !FUNCTION_WORDS.has(token)) stems.add(stemWord(token));
  }
  return [...stems].sort();
}
