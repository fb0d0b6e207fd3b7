/** A parsed JSON answer, read field by field by the assertions: typing every endpoint's shape here would add nothing. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Json = any;
