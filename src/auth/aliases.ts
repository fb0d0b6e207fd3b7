/** Matches a model alias against a key's allowed aliases: exact names or globs (`*` any run, `?` one character). */
export type AliasMatcher = (alias: string) => boolean;

const ANY: AliasMatcher = () => true;

/** Compiled once per key (when it is loaded), so the hot path runs no regex construction. */
export function compileAliasMatcher(patterns: readonly string[]): AliasMatcher {
  if (patterns.length === 0) return ANY;
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    if (p === "*") return ANY;
    if (!p.includes("*") && !p.includes("?")) exact.add(p);
    else globs.push(globToRegExp(p));
  }
  if (globs.length === 0) return (alias) => exact.has(alias);
  return (alias) => exact.has(alias) || globs.some((g) => g.test(alias));
}

function globToRegExp(glob: string): RegExp {
  let source = "";
  for (const ch of glob) {
    if (ch === "*") source += ".*";
    else if (ch === "?") source += ".";
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
