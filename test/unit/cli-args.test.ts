/** The CLI's command lines: what each one sends to the API, and what is refused before anything is sent. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Invocation, UsageError, commandNames, parseCommandLine, usage } from "../../src/cli/args";
import { normalizeBaseUrl } from "../../src/cli/api";
import { vmKeyOf } from "../../src/domain/model";

const diskId = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/disks/d1";
const endpoint = "https://backup.blob.core.windows.net";
const vmId = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
const vmKey = vmKeyOf(vmId);

describe("parseCommandLine", () => {
  const accepted: { name: string; argv: string[]; expected: Invocation }[] = [
    {
      name: "when protect asks for managed replication, then the body names the managed target",
      argv: ["protect", diskId, "--target-endpoint", endpoint, "--replication", "managed", "--managed-resource-group", "rg-t", "--managed-location", "westus2"],
      expected: { command: { name: "protect", body: { diskId, target: { blobEndpoint: endpoint }, replication: "managed", managedTarget: { resourceGroup: "rg-t", location: "westus2" } } }, json: false },
    },
    {
      name: "when protect gets only the disk and the endpoint, then the body carries only those (the API fills defaults)",
      argv: ["protect", diskId, "--target-endpoint", endpoint],
      expected: { command: { name: "protect", body: { diskId, target: { blobEndpoint: endpoint } } }, json: false },
    },
    {
      name: "when protect gets every option, then each lands in its API field",
      argv: ["protect", diskId, "--target-endpoint", endpoint, "--container", "backups", "--blob-name", "d1.vhd", "--storage-account-id", "/subscriptions/s1/resourceGroups/t/providers/Microsoft.Storage/storageAccounts/a",
        "--schedule", "0 30 2 * * *", "--mode", "existing", "--copy-mode", "stream", "--keep-last", "7", "--max-age-days", "2.5", "--rpo-alert-minutes", "90", "--verify-after-backup"],
      expected: {
        command: {
          name: "protect",
          body: {
            diskId,
            target: { blobEndpoint: endpoint, container: "backups", blobName: "d1.vhd", storageAccountId: "/subscriptions/s1/resourceGroups/t/providers/Microsoft.Storage/storageAccounts/a" },
            schedule: "0 30 2 * * *",
            snapshotMode: "existing",
            copyMode: "stream",
            retention: { keepLast: 7, maxAgeDays: 2.5 },
            rpoAlertMinutes: 90,
            verifyAfterBackup: true,
          },
        },
        json: false,
      },
    },
    {
      name: "when global options come before the arguments, then they are read as well",
      argv: ["list", "--json", "--api", "https://app.example/api", "--key", "k"],
      expected: { command: { name: "list" }, json: true, api: "https://app.example/api", key: "k" },
    },
    {
      name: "when update disables a disk and sets only an age limit, then retention carries only that rule",
      argv: ["update", "abc", "--disable", "--max-age-days", "30"],
      expected: { command: { name: "update", diskKey: "abc", body: { retention: { maxAgeDays: 30 }, enabled: false } }, json: false },
    },
    {
      name: "when update enables a disk and stops verifying after backup, then both are sent",
      argv: ["update", "abc", "--enable", "--no-verify-after-backup"],
      expected: { command: { name: "update", diskKey: "abc", body: { verifyAfterBackup: false, enabled: true } }, json: false },
    },
    { name: "when sync has no --wait, then it only starts the run", argv: ["sync", "abc"], expected: { command: { name: "sync", diskKey: "abc" }, json: false } },
    {
      name: "when sync --wait has no timing options, then it polls every 5 s for up to an hour",
      argv: ["sync", "abc", "--wait"],
      expected: { command: { name: "sync", diskKey: "abc", wait: { intervalMs: 5000, timeoutMs: 3_600_000 } }, json: false },
    },
    {
      name: "when sync --wait has timing options, then fractions of seconds are allowed",
      argv: ["sync", "abc", "--wait", "--interval", "0.25", "--timeout", "90"],
      expected: { command: { name: "sync", diskKey: "abc", wait: { intervalMs: 250, timeoutMs: 90_000 } }, json: false },
    },
    { name: "when runs has a limit, then it is passed on", argv: ["runs", "abc", "--limit", "5"], expected: { command: { name: "runs", diskKey: "abc", limit: 5 }, json: false } },
    {
      name: "when restore gets its options, then the body uses the API's names and the restore is followed by default",
      argv: ["restore", "abc", "rp1", "--name", "restored", "--resource-group", "rg-dr", "--location", "northeurope", "--sku", "Premium_LRS", "--size-gb", "256", "--subscription", "s2"],
      expected: {
        command: {
          name: "restore", diskKey: "abc", restorePointId: "rp1",
          body: { name: "restored", resourceGroup: "rg-dr", location: "northeurope", sku: "Premium_LRS", diskSizeGB: 256, subscriptionId: "s2" },
          wait: { intervalMs: 5000, timeoutMs: 3_600_000 },
        },
        json: false,
      },
    },
    {
      name: "when restore gets overrides and --no-wait, then the overrides are in the body and nothing is followed",
      argv: ["restore", "abc", "rp1", "--name", "r", "--resource-group", "g", "--location", "l", "--os-type", "Windows", "--hyper-v-generation", "V2", "--zone", "2", "--no-wait"],
      expected: { command: { name: "restore", diskKey: "abc", restorePointId: "rp1", body: { name: "r", resourceGroup: "g", location: "l", osType: "Windows", hyperVGeneration: "V2", zone: "2" } }, json: false },
    },
    { name: "when verify gets a disk and a RestorePoint, then both are kept", argv: ["verify", "abc", "rp1"], expected: { command: { name: "verify", diskKey: "abc", restorePointId: "rp1" }, json: false } },
    { name: "when there are no arguments, then help is shown", argv: [], expected: { command: { name: "help", topic: undefined }, json: false } },
    { name: "when help names a command, then that command's help is shown", argv: ["help", "restore"], expected: { command: { name: "help", topic: "restore" }, json: false } },
    { name: "when a command gets --help, then its help is shown even without its arguments", argv: ["restore", "-h"], expected: { command: { name: "help", topic: "restore" }, json: false } },
    {
      name: "when protect-vm gets a VM and the protect options, then the body names the VM and carries them",
      argv: ["protect-vm", vmId, "--target-endpoint", endpoint, "--container", "backups", "--schedule", "every 1h", "--keep-last", "3"],
      expected: { command: { name: "protect-vm", body: { vmId, target: { blobEndpoint: endpoint, container: "backups" }, schedule: "every 1h", retention: { keepLast: 3 } } }, json: false },
    },
    { name: "when sync-vm gets a VM id, then its vmKey is used", argv: ["sync-vm", vmId], expected: { command: { name: "sync-vm", vmKey }, json: false } },
    { name: "when vm-restore-points gets a vmKey, then it is used as it is", argv: ["vm-restore-points", vmKey], expected: { command: { name: "vm-restore-points", vmKey }, json: false } },
    {
      name: "when restore-vm gets a time and its options, then the body uses the API's names and it waits by default",
      argv: ["restore-vm", vmId, "--at", "2026-01-15T10:00:00Z", "--resource-group", "rg-dr", "--location", "northeurope", "--name-prefix", "dr-", "--allow-partial"],
      expected: {
        command: {
          name: "restore-vm",
          vmKey,
          body: { at: "2026-01-15T10:00:00Z", allowPartial: true, namePrefix: "dr-", resourceGroup: "rg-dr", location: "northeurope" },
          wait: { intervalMs: 5000, timeoutMs: 3_600_000 },
        },
        json: false,
      },
    },
    {
      name: "when restore-vm is asked for the latest group without waiting, then only that is sent",
      argv: ["restore-vm", vmKey, "--at", "latest", "--resource-group", "rg-dr", "--location", "northeurope", "--no-wait"],
      expected: { command: { name: "restore-vm", vmKey, body: { at: "latest", resourceGroup: "rg-dr", location: "northeurope" } }, json: false },
    },
    {
      name: "when restore-vm gets a target account, then it runs in direct mode from the manifests",
      argv: ["restore-vm", vmId, "--at", "latest", "--target-account", endpoint, "--container", "backups", "--resource-group", "rg-dr", "--location", "northeurope"],
      expected: {
        command: { name: "direct restore-vm", target: { blobEndpoint: endpoint, container: "backups" }, vmKey, body: { at: "latest", resourceGroup: "rg-dr", location: "northeurope" } },
        json: false,
      },
    },
    {
      name: "when global options come before the command, then they are read as after it",
      argv: ["--api", "https://app.example/api", "--json", "--key=k", "status", "abc"],
      expected: { command: { name: "status", diskKey: "abc" }, json: true, api: "https://app.example/api", key: "k" },
    },
    {
      name: "when a global option comes before a two-word command, then the command is still found",
      argv: ["--json", "catalog", "rebuild", "--target-account", endpoint],
      expected: { command: { name: "catalog rebuild", body: { blobEndpoint: endpoint } }, json: true },
    },
    { name: "when --help comes after global options alone, then help is shown", argv: ["--api", "https://app.example/api", "--help"], expected: { command: { name: "help" }, json: false } },
    {
      name: "when update says keep-all, then retention keeps everything",
      argv: ["update", "abc", "--keep-all"],
      expected: { command: { name: "update", diskKey: "abc", body: { retention: { keepAll: true } } }, json: false },
    },
    { name: "when unprotect gets a key, then it is the only thing sent", argv: ["unprotect", "abc"], expected: { command: { name: "unprotect", diskKey: "abc" }, json: false } },
  ];
  for (const c of accepted) {
    it(c.name, () => assert.deepEqual(parseCommandLine(c.argv), c.expected));
  }

  const refused: { name: string; argv: string[]; message: RegExp; command?: string }[] = [
    { name: "when the command is unknown, then it is named", argv: ["backup", "abc"], message: /^unknown command "backup"$/ },
    { name: "when a command's own option comes before the command, then the order is explained", argv: ["--wait", "sync", "abc"], message: /^a command comes first, before --wait$/ },
    { name: "when only global options are given, then a command is asked for", argv: ["--api", "https://app.example/api"], message: /^no command given after the global options$/ },
    { name: "when protect lacks the endpoint, then the endpoint is asked for", argv: ["protect", diskId], message: /^--target-endpoint is required$/, command: "protect" },
    { name: "when an option is unknown, then it is named", argv: ["status", "abc", "--verbose"], message: /Unknown option '--verbose'/, command: "status" },
    { name: "when an option misses its value, then that is said", argv: ["protect", diskId, "--target-endpoint"], message: /--target-endpoint/, command: "protect" },
    { name: "when a disk key is missing, then the expected arguments are listed", argv: ["status"], message: /^status takes <diskKey>; got none$/, command: "status" },
    { name: "when there are too many arguments, then they are shown", argv: ["list", "extra"], message: /^list takes no arguments; got "extra"$/, command: "list" },
    { name: "when restore lacks a RestorePoint id, then both arguments are listed", argv: ["restore", "abc", "--name", "x", "--resource-group", "y"], message: /^2 problems with the command line$/, command: "restore" },
    { name: "when restore lacks a name, then the name is asked for", argv: ["restore", "abc", "rp1", "--resource-group", "y", "--location", "l"], message: /^--name is required$/, command: "restore" },
    { name: "when restore lacks a location, then the location is asked for", argv: ["restore", "abc", "rp1", "--name", "x", "--resource-group", "y"], message: /^--location is required$/, command: "restore" },
    { name: "when keep-last is not a number, then the value is shown", argv: ["update", "abc", "--keep-last", "lots"], message: /^--keep-last must be a positive number, not "lots"$/, command: "update" },
    { name: "when keep-last is negative, then the option and its rule are named (not an ambiguous argument)", argv: ["update", "abc", "--keep-last", "-1"], message: /^--keep-last must be a positive number, not "-1"$/, command: "update" },
    { name: "when keep-all comes with keep-last, then they are refused together", argv: ["update", "abc", "--keep-all", "--keep-last", "3"], message: /^--keep-all excludes --keep-last and --max-age-days/, command: "update" },
    { name: "when keep-last is a fraction, then a whole number is asked for", argv: ["update", "abc", "--keep-last", "1.5"], message: /^--keep-last must be a whole number, not "1.5"$/, command: "update" },
    { name: "when a count is zero, then it is refused", argv: ["runs", "abc", "--limit", "0"], message: /^--limit must be a positive number/, command: "runs" },
    { name: "when update is told to enable and disable, then it is refused", argv: ["update", "abc", "--enable", "--disable"], message: /exclude each other/, command: "update" },
    { name: "when verifying after backup is turned on and off at once, then it is refused", argv: ["update", "abc", "--verify-after-backup", "--no-verify-after-backup"], message: /exclude each other/, command: "update" },
    { name: "when update changes nothing, then it is refused", argv: ["update", "abc"], message: /^nothing to update/, command: "update" },
    { name: "when timing options are given without --wait, then they are refused", argv: ["sync", "abc", "--interval", "1"], message: /only apply with --wait/, command: "sync" },
    { name: "when restore gets --no-wait and a timeout, then they are refused together", argv: ["restore", "abc", "rp1", "--name", "r", "--resource-group", "g", "--location", "l", "--no-wait", "--timeout", "5"], message: /do not apply with --no-wait/, command: "restore" },
    { name: "when a boolean option gets a value, then that is said", argv: ["sync", "abc", "--wait=yes"], message: /--wait/, command: "sync" },
    { name: "when protect-vm gets a disk id, then a VM id is asked for", argv: ["protect-vm", diskId, "--target-endpoint", endpoint], message: /is not a VM resource id/, command: "protect-vm" },
    { name: "when protect-vm gets a blob name, then it is refused (each disk has its own)", argv: ["protect-vm", vmId, "--target-endpoint", endpoint, "--blob-name", "x"], message: /Unknown option '--blob-name'/, command: "protect-vm" },
    { name: "when restore-vm lacks --at, then the time is asked for", argv: ["restore-vm", vmId, "--resource-group", "rg", "--location", "l"], message: /^--at is required$/, command: "restore-vm" },
    { name: "when restore-vm gets a time that is not ISO, then the format is shown", argv: ["restore-vm", vmId, "--at", "yesterday", "--resource-group", "rg", "--location", "l"], message: /^--at must be an ISO time/, command: "restore-vm" },
    { name: "when sync-vm gets neither a VM id nor a vmKey, then both forms are named", argv: ["sync-vm", "vm1"], message: /neither a VM resource id .* nor a vmKey/, command: "sync-vm" },
    { name: "when restore-vm in direct mode is told not to wait, then that is refused", argv: ["restore-vm", vmId, "--at", "latest", "--target-account", endpoint, "--resource-group", "rg", "--location", "l", "--no-wait"], message: /not to --target-account/, command: "restore-vm" },
    { name: "when help is asked for an unknown command, then it is named", argv: ["help", "nope"], message: /^unknown command "nope"$/ },
  ];
  for (const c of refused) {
    it(c.name, () => {
      assert.throws(
        () => parseCommandLine(c.argv),
        (error: unknown) => error instanceof UsageError && c.message.test(error.message) && error.command === c.command,
      );
    });
  }
});

describe("problems of a command line", () => {
  it("when several options are wrong, then every problem is listed, each naming its option", () => {
    assert.throws(
      () => parseCommandLine(["update", "abc", "--keep-last", "-1", "--max-age-days", "0", "--rpo-alert-minutes", "1.5"]),
      (error: unknown) =>
        error instanceof UsageError &&
        error.message === "3 problems with the command line" &&
        error.command === "update" &&
        error.details.join("\n") === ['--keep-last must be a positive number, not "-1"', '--max-age-days must be a positive number, not "0"', '--rpo-alert-minutes must be a whole number, not "1.5"'].join("\n"),
    );
  });

  it("when only one of --managed-resource-group and --managed-location is given, then the line is refused naming both", () => {
    assert.throws(() => parseCommandLine(["update", "0123456789abcdef", "--managed-location", "westus2"]), /--managed-resource-group and --managed-location go together/);
  });

  it("when an argument is missing and a required option too, then both are listed", () => {
    assert.throws(
      () => parseCommandLine(["restore", "abc", "--name", "x", "--resource-group", "y"]),
      (error: unknown) => error instanceof UsageError && /restore takes <diskKey> <restorePointId>; got "abc"/.test(error.details[0]) && error.details[1] === "--location is required",
    );
  });
});

describe("usage", () => {
  it("when protect's help is shown, then it names the defaults; update's does not, since what is not given stays", () => {
    assert.match(usage("protect"), /--schedule <schedule> .*\(default every 4h\)/);
    assert.match(usage("protect"), /--keep-last <n> .*\(default keep last 14\)/);
    assert.doesNotMatch(usage("update"), /default/);
  });

  it("when --mode's help is shown, then it says what the README says: existing replicates every snapshot someone else takes", () => {
    assert.match(usage("protect"), /existing: replicate every incremental snapshot someone else takes, oldest first/);
  });

  it("when help is shown, then every command is listed with its arguments", () => {
    const text = usage();
    for (const name of commandNames) assert.match(text, new RegExp(`^  ${name}( <|\\s{2})`, "m"));
    assert.match(text, /Exit codes: 0 done; 1 .*; 2 bad command line;/);
  });

  it("when a command's help is shown, then its own and the global options are listed", () => {
    const text = usage("sync");
    assert.match(text, /^Usage: diskdelta sync <diskKey> \[options\]/);
    assert.match(text, /--timeout <seconds>/);
    assert.match(text, /--api <url>/);
  });
});

describe("normalizeBaseUrl", () => {
  const cases: { name: string; input: string; expected: string }[] = [
    { name: "when the URL is a bare origin, then the Functions route prefix /api is added", input: "https://app.azurewebsites.net", expected: "https://app.azurewebsites.net/api" },
    { name: "when the URL ends with a slash, then it is dropped", input: "https://app.azurewebsites.net/api/", expected: "https://app.azurewebsites.net/api" },
    { name: "when the URL has a custom prefix, then it is kept", input: "http://127.0.0.1:7071/backup", expected: "http://127.0.0.1:7071/backup" },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(normalizeBaseUrl(c.input), c.expected));
  }

  const refused: { name: string; input: string; message: RegExp }[] = [
    { name: "when the URL carries a ?code= key, then it is refused so the key cannot be printed", input: "https://app.azurewebsites.net/api?code=secret", message: /must not carry credentials, a query/ },
    { name: "when the URL is not a URL, then an example is given", input: "app.azurewebsites.net", message: /not a URL; expected e\.g\. https:/ },
    { name: "when the URL is not http(s), then it is refused", input: "ftp://app", message: /must be http\(s\)/ },
  ];
  for (const c of refused) {
    it(c.name, () => assert.throws(() => normalizeBaseUrl(c.input), c.message));
  }
});
