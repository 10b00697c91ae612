#!/usr/bin/env node
/** `diskdelta`, the operator CLI (package.json `bin`). See docs/cli.md. */
import { runCli } from "./cli";

runCli(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  stderrIsTerminal: process.stderr.isTTY === true,
}).then(
  (code) => {
    // exitCode rather than exit(): output piped to another process is flushed first.
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
