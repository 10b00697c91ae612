/** Loads every function module the way the Functions host does (package.json `main`: dist/src/functions/*.js). */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type FunctionDefinition, declaredFunctions } from "../host/register";

/** @azure/functions warns about each `app.*` call outside the host; here the local host registers them instead. */
const testModeWarning = /package (is|to) in test mode|Switching "@azure\/functions" package to test mode/;

export function loadAppFunctions(): readonly FunctionDefinition[] {
  const folder = join(__dirname, "..", "functions");
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!testModeWarning.test(String(args[0]))) warn(...args);
  };
  try {
    for (const file of readdirSync(folder).filter((name) => name.endsWith(".js")).sort()) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the host loads these files by glob, so do we
      require(join(folder, file));
    }
  } finally {
    console.warn = warn;
  }
  return declaredFunctions();
}
