/** Loads every function module the way the Functions host does (package.json `main`: dist/src/functions/*.js). */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type FunctionDefinition, declaredFunctions } from "../host/register";

export function loadAppFunctions(): readonly FunctionDefinition[] {
  const folder = join(__dirname, "..", "functions");
  for (const file of readdirSync(folder).filter((name) => name.endsWith(".js")).sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the host loads these files by glob, so do we
    require(join(folder, file));
  }
  return declaredFunctions();
}
