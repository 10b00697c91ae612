/**
 * Runs the conformance suite (test/conformance): against the local stack by default; with `--live` against the
 * subscription of the env file (docs/conformance.md), after printing the plan of what it will create and delete;
 * with `--live --plan` it prints the plan and stops, without a single network call.
 * Usage: conformance [--live [--plan]]
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { liveEnvPath, readLiveSettings } from "../test/conformance/live-settings";
import { newRunPrefix, renderPlan, runPrefixPattern } from "../test/conformance/plan";

const suiteDir = resolve(__dirname, "..", "test", "conformance");

/** The contract tests: the suite's top-level files, the ones that run live (harness/ tests the suite itself). */
function contractTests(): string[] {
  return readdirSync(suiteDir).filter((name) => name.endsWith(".test.js")).sort().map((name) => join(suiteDir, name));
}

function parseArgs(args: string[]): { live: boolean; plan: boolean } {
  const unknown = args.filter((a) => a !== "--live" && a !== "--plan");
  if (unknown.length) throw new Error(`unknown argument ${unknown.join(" ")}; usage: conformance [--live [--plan]]`);
  const live = args.includes("--live");
  const plan = args.includes("--plan");
  if (plan && !live) throw new Error("--plan shows what a live run creates and deletes: use it with --live");
  return { live, plan };
}

/** The run's prefix: DISKDELTA_CONFORMANCE_PREFIX (to repeat a plan exactly), else a new one. */
function runPrefix(): string {
  const given = process.env.DISKDELTA_CONFORMANCE_PREFIX;
  if (given === undefined || given === "") return newRunPrefix();
  if (!runPrefixPattern.test(given)) throw new Error(`DISKDELTA_CONFORMANCE_PREFIX '${given}' is not of the form ddconf-<yyyymmddhhmm>-<6 hex>`);
  return given;
}

function runTests(files: string[], env: NodeJS.ProcessEnv): void {
  const child = spawn(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit", env });
  child.on("exit", (code) => process.exit(code ?? 1));
}

async function main(): Promise<void> {
  const { live, plan } = parseArgs(process.argv.slice(2));
  if (!live) {
    // Locally the suite is one folder of the regular tests (contract tests and the harness tests under harness/).
    const child = spawn(process.execPath, [join(__dirname, "run-tests.js"), "conformance"], { stdio: "inherit" });
    child.on("exit", (code) => process.exit(code ?? 1));
    return;
  }
  const envPath = liveEnvPath();
  const settings = readLiveSettings(envPath);
  const prefix = runPrefix();
  process.stdout.write(renderPlan(settings, prefix));
  if (plan) return;
  process.stdout.write("\n");
  runTests(contractTests(), {
    ...process.env,
    DISKDELTA_CONFORMANCE_MODE: "live",
    DISKDELTA_CONFORMANCE_PREFIX: prefix,
    DISKDELTA_CONFORMANCE_ENV: envPath,
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
