import { readFile, writeFile } from "node:fs/promises";

/** Replaces the README's generated section `name` (between its start and end markers) with `content`. */
export async function writeReadmeSection(name: string, content: string, file = "README.md"): Promise<void> {
  const text = await readFile(file, "utf8");
  const startMark = `<!-- ${name}:start -->\n`;
  const endMark = `<!-- ${name}:end -->`;
  const start = text.indexOf(startMark);
  const end = text.indexOf(endMark);
  if (start === -1 || end === -1) throw new Error(`${file}: markers for section "${name}" not found`);
  await writeFile(file, `${text.slice(0, start + startMark.length)}${content}\n${text.slice(end)}`);
}
