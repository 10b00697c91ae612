/**
 * Reads declarations out of the Bicep files in infra/ as text. There is no Bicep compiler here, so the drift tests
 * read the few shapes they need, written one entry per line: `var name = { key: value }` and `var name = [ 'a' ]`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** The repository root, from dist/test/support. */
export const repoRoot = resolve(__dirname, "..", "..", "..");

export function readRepoFile(path: string): string {
  return readFileSync(resolve(repoRoot, path), "utf8");
}

/** The lines between `var <name> = {` (or `[`) and the closing bracket at the start of a line. */
function declarationBody(text: string, name: string, open: "{" | "["): string[] {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === `var ${name} = ${open}`);
  if (start === -1) throw new Error(`no "var ${name} = ${open}" declaration`);
  const close = open === "{" ? "}" : "]";
  const end = lines.findIndex((line, index) => index > start && line === close);
  if (end === -1) throw new Error(`"var ${name}" is not closed by "${close}" at the start of a line`);
  return lines.slice(start + 1, end).filter((line) => line.trim() !== "" && !line.trim().startsWith("//"));
}

/** One property of a Bicep object: its key, and its value when that is a plain string literal. */
export interface BicepProperty {
  readonly key: string;
  readonly literal?: string;
}

export function bicepObjectVar(text: string, name: string): BicepProperty[] {
  return declarationBody(text, name, "{").map((line) => {
    const match = /^\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+?)\s*$/.exec(line);
    if (!match) throw new Error(`cannot read "${line.trim()}" in var ${name}`);
    const literal = /^'([^'$]*)'$/.exec(match[2]);
    return { key: match[1], literal: literal?.[1] };
  });
}

/** The string literals of a Bicep array, in order: `var name = ['a', 'b']` or one entry per line. */
export function bicepStringArrayVar(text: string, name: string): string[] {
  const inline = new RegExp(`^var ${name} = \\[(.*)\\]\\s*$`, "m").exec(text);
  const body = inline ? inline[1] : declarationBody(text, name, "[").join("\n");
  return [...body.matchAll(/'([^']*)'/g)].map((match) => match[1]);
}

/** The value of `var <name> = '<literal>'`. */
export function bicepStringVar(text: string, name: string): string {
  const match = new RegExp(`^var ${name} = '([^'$]*)'\\s*$`, "m").exec(text);
  if (!match) throw new Error(`no "var ${name} = '...'" declaration`);
  return match[1];
}

/** Every `'''...'''` multi-line string (the KQL queries of the alert rules). */
export function bicepMultilineStrings(text: string): string[] {
  return [...text.matchAll(/'''([\s\S]*?)'''/g)].map((match) => match[1]);
}
