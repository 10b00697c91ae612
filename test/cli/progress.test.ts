/**
 * What `diskdelta verify` prints while it waits: progress lines of the verification on stderr — each replacing the
 * one before on a terminal, a new line every few seconds (or when the phase changes) elsewhere — and the same
 * result on stdout as before. The printer is checked on its own; the whole CLI against the local app, with the
 * verification held back mid-read until a progress line was printed (no timing).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "../../src/cli/cli";
import { progressPrinter } from "../../src/cli/wait";
import { GiB, MiB, useTestApp } from "../support/app";
import { syncAndVerify } from "../support/backup";
import { intercept } from "../support/intercept";

describe("progress lines of the CLI", () => {
  it("when stderr is a terminal, then each progress line replaces the one before; otherwise a new one waits a few seconds unless it says something new", () => {
    const terminal: string[] = [];
    const live = progressPrinter((line) => terminal.push(line), { inPlace: true, everyMs: 5000, now: () => 0 });
    live("a");
    live("b");
    assert.deepEqual(terminal, ["a", "\x1b[1A\x1b[2Kb"]);

    let clock = 0;
    const logged: string[] = [];
    const lines = progressPrinter((line) => logged.push(line), { inPlace: false, everyMs: 5000, now: () => clock });
    lines("listing 10%");
    clock = 2000;
    lines("listing 20%");
    lines("reading 0%", true);
    clock = 8000;
    lines("reading 40%");
    assert.deepEqual(logged, ["listing 10%", "reading 0%", "reading 40%"]);
  });

  describe("against the local app", () => {
    const app = useTestApp({ settings: { DISKDELTA_PROGRESS_SECONDS: "0" } });

    it("when an operator verifies a RestorePoint, then stderr shows how far the comparison is before stdout gives the same result", async () => {
      const diskId = await app().createDisk("disk-cli-verify-progress", 2 * GiB);
      app().stack.disks.writeSeeded(diskId, 0, 64 * MiB, 91);
      const diskKey = await app().protect(diskId);
      const { point } = await syncAndVerify(app(), diskKey);

      const stdout: string[] = [];
      const stderr: string[] = [];
      let printed: () => void = () => undefined;
      const progressPrinted = new Promise<void>((resolve) => (printed = resolve));
      // After 4 block reads of the RestorePoint the rest wait for the CLI to print a reading progress line.
      const holding = intercept(app().deps, "target.readSnapshot", 4, () => progressPrinted);
      const { host } = app().withDeps(holding.deps);
      const apiUrl = await host.listen();
      const code = await runCli(["verify", diskKey, point.restorePointId], { DISKDELTA_API_URL: apiUrl, DISKDELTA_FUNCTION_KEY: host.functionKey }, {
        stdout: (text) => stdout.push(text),
        stderr: (text) => {
          stderr.push(text);
          if (/% compared/.test(text)) printed();
        },
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 20))),
      });
      await host.stop();
      assert.equal(code, 0, stderr.join("\n"));
      assert.ok(holding.fired());
      assert.match(stdout.join("\n"), new RegExp(`^RestorePoint ${point.restorePointId} equals its source snapshot\\.`));
      const compared = stderr.find((line) => /% compared/.test(line));
      assert.ok(compared, `a progress line on stderr: ${JSON.stringify(stderr)}`);
      assert.match(compared, new RegExp(`^Verifying RestorePoint ${point.restorePointId}: (\\d|[1-9]\\d)% compared \\([\\d.]+ (B|KiB|MiB) of [\\d.]+ MiB read\\)$`));
    });
  });
});
