/**
 * `diskdelta-local disk …`: managed disks on the local stack as a user meets them — created, listed, snapshotted and
 * read through ARM (`@azure/arm-compute`, as against Azure), written and trimmed through the emulator's documented
 * control routes (what a VM's writes would do; `emulator/disks/control-protocol.ts`). See docs/local-stack.md.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ComputeManagementClient, type Disk, type Snapshot } from "@azure/arm-compute";
import type { StackConnection } from "../../emulator/stack";
import { formatBytes, table } from "../../src/cli/format";
import { createSourceSnapshotReader } from "../../src/adapters/source-snapshot";
import { sparseDigest } from "../../src/engine/verify";
import { diskKeyOf } from "../../src/domain/model";
import { GiB, MAX_PAGE_WRITE_BYTES, PAGE_BYTES } from "../../src/domain/ranges";

/** Bad input: the message names the argument; the command exits 2. */
export class UsageError extends Error {}

/** What a command prints: `out` is the answer (an id, a digest, a table), `err` the hints for the person typing. */
export interface DiskCommandIo {
  out(line: string): void;
  err(line: string): void;
}

export const diskUsage = `Usage: diskdelta-local disk <command> [arguments] [options]

Commands:
  create <name> --size-gib <n> [--resource-group <g>] [--location <l>]
                                     an empty managed disk; prints its ARM id (for npx diskdelta protect)
  write <disk> --offset <o> (--length <n> (--pattern <p> | --random [--seed <n>]) | --file <path>)
                                     writes as a VM would: a repeated pattern (text, or 0x.. bytes), seeded
                                     pseudo-random bytes, or a file's bytes (its length)
  trim <disk> --offset <o> --length <n>
                                     deallocates (a ClearedRange in the next snapshot's diff)
  snapshot <disk> [--name <n>]       an incremental snapshot through ARM; prints its id
  list                               the stack's disks and snapshots
  hash <disk|snapshot>               the content digest (disk bytes, no VHD footer): equal digests, equal content

<disk> is a disk's ARM id or its name (--resource-group <g> when two groups have one); <snapshot> likewise.
Offsets and lengths are bytes or a number with KiB, MiB or GiB, in whole 512-byte pages.`;

const defaultResourceGroup = "rg-data";
const grantSeconds = 3600;
const poll = { updateIntervalInMs: 250 };

/** Runs one `disk` command against a running stack. */
export async function runDiskCommand(argv: readonly string[], stack: StackConnection, io: DiskCommandIo): Promise<void> {
  const [command, ...rest] = argv;
  const compute = new ComputeManagementClient(stack.arm.credential, stack.arm.subscriptionId, { endpoint: stack.arm.endpoint });
  const context = { stack, compute, io };
  switch (command) {
    case "create":
      return createDisk(context, parse(rest, "create", { "size-gib": str, "resource-group": str, location: str }, 1));
    case "write":
      return writeDisk(context, parse(rest, "write", { offset: str, length: str, pattern: str, random: bool, seed: str, file: str, "resource-group": str }, 1));
    case "trim":
      return trimDisk(context, parse(rest, "trim", { offset: str, length: str, "resource-group": str }, 1));
    case "snapshot":
      return snapshotDisk(context, parse(rest, "snapshot", { name: str, "resource-group": str }, 1));
    case "list":
      return listDisks(context, parse(rest, "list", {}, 0));
    case "hash":
      return hashResource(context, parse(rest, "hash", { "resource-group": str }, 1));
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.out(diskUsage);
      return;
    default:
      throw new UsageError(`unknown disk command "${command}": one of create, write, trim, snapshot, list, hash`);
  }
}

interface Context {
  readonly stack: StackConnection;
  readonly compute: ComputeManagementClient;
  readonly io: DiskCommandIo;
}

const str = { type: "string" } as const;
const bool = { type: "boolean" } as const;
type OptionSpec = Record<string, typeof str | typeof bool>;

interface Parsed {
  readonly positionals: string[];
  readonly values: Record<string, string | boolean | undefined>;
}

function parse(args: readonly string[], command: string, options: OptionSpec, positionals: number): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`disk ${command}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (parsed.positionals.length !== positionals) {
    const wanted = positionals === 0 ? "no arguments" : "one argument (the disk)";
    throw new UsageError(`disk ${command} takes ${wanted}, got ${parsed.positionals.length}: ${parsed.positionals.join(" ") || "none"}`);
  }
  return { positionals: parsed.positionals, values: parsed.values };
}

function text(values: Parsed["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

function required(values: Parsed["values"], name: string, command: string): string {
  const value = text(values, name);
  if (value === undefined) throw new UsageError(`disk ${command} needs --${name}`);
  return value;
}

const unitBytes: Record<string, number> = { "": 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** A byte count: `1048576`, `4MiB`, `1 GiB`; whole pages of 512 bytes. */
export function parseByteCount(option: string, value: string): number {
  const match = /^(\d+)\s*(b|kib|mib|gib)?$/i.exec(value.trim());
  const bytes = match ? Number(match[1]) * unitBytes[(match[2] ?? "").toLowerCase()] : NaN;
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--${option} must be a byte count (e.g. 1048576 or 4MiB; units KiB, MiB, GiB), not "${value}"`);
  if (bytes % PAGE_BYTES !== 0) throw new UsageError(`--${option} ${value} is not a multiple of 512 bytes: disks are written in 512-byte pages`);
  return bytes;
}

/** Where a disk or snapshot is, from its ARM id. */
interface ResourceRef {
  readonly kind: "disks" | "snapshots";
  readonly resourceGroup: string;
  readonly name: string;
  readonly id: string;
}

const idPattern = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/(disks|snapshots)\/([^/]+)$/i;

function refOf(id: string): ResourceRef | undefined {
  const match = idPattern.exec(id.trim());
  if (!match) return undefined;
  return { kind: match[2].toLowerCase() as ResourceRef["kind"], resourceGroup: match[1], name: match[3], id: id.trim() };
}

/** A disk (or, when `snapshots` is allowed, a snapshot) named by its id or name; not found and ambiguous are errors naming it. */
async function resolve(context: Context, argument: string, group: string | undefined, kinds: readonly ResourceRef["kind"][]): Promise<ResourceRef> {
  const what = kinds.includes("snapshots") ? "disk or snapshot" : "disk";
  const byId = refOf(argument);
  if (byId) {
    if (!kinds.includes(byId.kind)) throw new UsageError(`${argument} is a snapshot, not a disk: pass a disk's id or name`);
    return byId;
  }
  if (argument.startsWith("/")) throw new UsageError(`"${argument}" is not a disk or snapshot ARM id (/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/disks/<name>)`);
  const candidates: ResourceRef[] = [];
  for (const kind of kinds) {
    for (const resource of await listAll(context, kind)) {
      const ref = resource.id === undefined ? undefined : refOf(resource.id);
      if (!ref || ref.name.toLowerCase() !== argument.toLowerCase()) continue;
      if (group === undefined || ref.resourceGroup.toLowerCase() === group.toLowerCase()) candidates.push(ref);
    }
  }
  if (candidates.length === 1) return candidates[0];
  const where = group === undefined ? "" : ` in resource group ${group}`;
  if (candidates.length === 0) throw new UsageError(`${what} "${argument}" not found on the local stack${where} (npx diskdelta-local disk list shows them)`);
  throw new UsageError(`${what} name "${argument}" is ambiguous: ${candidates.map((c) => c.id).join(", ")}; pass the id, or --resource-group`);
}

async function listAll(context: Context, kind: ResourceRef["kind"]): Promise<(Disk | Snapshot)[]> {
  const found: (Disk | Snapshot)[] = [];
  const pages = kind === "disks" ? context.compute.disks.list() : context.compute.snapshots.list();
  for await (const resource of pages) found.push(resource);
  return found;
}

async function getDisk(context: Context, ref: ResourceRef): Promise<Disk> {
  try {
    return await context.compute.disks.get(ref.resourceGroup, ref.name);
  } catch (error) {
    if (statusOf(error) === 404) throw new UsageError(`disk ${ref.id} not found on the local stack (${firstLine(error)})`);
    throw error;
  }
}

function sizeOf(resource: Disk | Snapshot): number {
  const bytes = resource.diskSizeBytes ?? (resource.diskSizeGB === undefined ? undefined : resource.diskSizeGB * GiB);
  if (bytes === undefined) throw new Error(`ARM answered no size for ${resource.id ?? "the resource"}`);
  return bytes;
}

async function createDisk({ stack, compute, io }: Context, { positionals: [name], values }: Parsed): Promise<void> {
  if (!/^[A-Za-z0-9][\w.-]{0,79}$/.test(name)) throw new UsageError(`disk name "${name}" is not valid: 1-80 letters, digits, _ . - (a letter or digit first)`);
  const sizeText = required(values, "size-gib", "create");
  const sizeGib = Number(sizeText);
  if (!/^\d+$/.test(sizeText) || sizeGib < 1 || sizeGib > 32_767) throw new UsageError(`--size-gib must be a whole number of GiB from 1 to 32767, not "${sizeText}"`);
  const group = text(values, "resource-group") ?? defaultResourceGroup;
  const location = text(values, "location") ?? stack.arm.location;
  const groups = await stack.listResourceGroups();
  if (!groups.some((g) => g.name.toLowerCase() === group.toLowerCase())) {
    throw new UsageError(`--resource-group ${group} does not exist on the local stack (there are ${groups.map((g) => g.name).join(", ")})`);
  }
  const disk = await compute.disks.beginCreateOrUpdateAndWait(group, name, { location, diskSizeGB: sizeGib, creationData: { createOption: "Empty" } }, poll);
  const id = disk.id ?? `/subscriptions/${stack.arm.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Compute/disks/${name}`;
  io.out(id);
  io.err(`created disk ${name} (${sizeGib} GiB, ${location}, diskKey ${diskKeyOf(id)}); protect it with:`);
  io.err(`  npx diskdelta protect ${id} --target-endpoint ${stack.target.blobEndpoint} --storage-account-id ${stack.target.resourceId}`);
}

/** Offset and length checked against the disk, each named when wrong. */
function spanOf(values: Parsed["values"], command: string, diskBytes: number, length?: number): { offset: number; length: number } {
  const offset = parseByteCount("offset", required(values, "offset", command));
  const bytes = length ?? parseByteCount("length", required(values, "length", command));
  if (bytes === 0) throw new UsageError(`--length must be at least 512 bytes`);
  if (offset + bytes > diskBytes) {
    throw new UsageError(`--offset ${offset} + --length ${bytes} ends at byte ${offset + bytes}, past the end of the disk (${diskBytes} bytes, ${formatBytes(diskBytes)})`);
  }
  return { offset, length: bytes };
}

/** The bytes of `--pattern`: `0x` then hex digits for bytes, otherwise the text's UTF-8. */
function patternBytes(pattern: string): Buffer {
  if (/^0x/i.test(pattern)) {
    const hex = pattern.slice(2);
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) throw new UsageError(`--pattern ${pattern} is not whole hex bytes (e.g. 0x5a or 0xdeadbeef)`);
    return Buffer.from(hex, "hex");
  }
  if (pattern.length === 0) throw new UsageError("--pattern must not be empty");
  return Buffer.from(pattern, "utf8");
}

async function writeDisk(context: Context, { positionals: [argument], values }: Parsed): Promise<void> {
  const sources = ["pattern", "random", "file"].filter((name) => values[name] !== undefined);
  if (sources.length !== 1) throw new UsageError(`disk write needs exactly one of --pattern, --random, --file${sources.length ? ` (got --${sources.join(", --")})` : ""}`);
  if (values.seed !== undefined && values.random !== true) throw new UsageError("--seed goes with --random");
  const file = text(values, "file");
  if (file !== undefined && values.length !== undefined) throw new UsageError("--length goes with --pattern or --random; --file writes the whole file");
  const ref = await resolve(context, argument, text(values, "resource-group"), ["disks"]);
  const diskBytes = sizeOf(await getDisk(context, ref));
  const disks = context.stack.disks;
  let described: string;
  let span: { offset: number; length: number };
  if (values.random === true) {
    const seedText = text(values, "seed");
    const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, not "${seedText}"`);
    span = spanOf(values, "write", diskBytes);
    await disks.writeSeeded(ref.id, span.offset, span.length, seed);
    described = `pseudo-random bytes (seed ${seed})`;
  } else {
    let pieceAt: (done: number, length: number) => Buffer;
    if (file !== undefined) {
      let data: Buffer;
      try {
        data = readFileSync(file);
      } catch (error) {
        throw new UsageError(`--file ${file} cannot be read (${firstLine(error)})`);
      }
      if (data.length === 0 || data.length % PAGE_BYTES !== 0) throw new UsageError(`--file ${file} is ${data.length} bytes, not a whole number of 512-byte pages`);
      span = spanOf(values, "write", diskBytes, data.length);
      pieceAt = (done, length) => data.subarray(done, done + length);
      described = `the ${data.length} bytes of ${file}`;
    } else {
      const pattern = required(values, "pattern", "write");
      const unit = patternBytes(pattern);
      span = spanOf(values, "write", diskBytes);
      // One piece and a pattern more, so that each piece starts where the pattern stands at its offset.
      const filled = Buffer.alloc(Math.min(span.length, MAX_PAGE_WRITE_BYTES) + unit.length, unit);
      pieceAt = (done, length) => filled.subarray(done % unit.length, (done % unit.length) + length);
      described = `the pattern ${JSON.stringify(pattern)}`;
    }
    // In 4 MiB pieces, as a VM's writes arrive.
    for (let done = 0; done < span.length; done += MAX_PAGE_WRITE_BYTES) {
      await disks.write(ref.id, span.offset + done, pieceAt(done, Math.min(MAX_PAGE_WRITE_BYTES, span.length - done)));
    }
  }
  context.io.err(`wrote ${span.length} bytes (${formatBytes(span.length)}) of ${described} at offset ${span.offset} of ${ref.name}`);
}

async function trimDisk(context: Context, { positionals: [argument], values }: Parsed): Promise<void> {
  const ref = await resolve(context, argument, text(values, "resource-group"), ["disks"]);
  const span = spanOf(values, "trim", sizeOf(await getDisk(context, ref)));
  await context.stack.disks.trim(ref.id, span.offset, span.length);
  context.io.err(`trimmed bytes ${span.offset}-${span.offset + span.length} (${formatBytes(span.length)}) of ${ref.name}: they read as zeros, and the next snapshot's diff lists them as a ClearedRange`);
}

async function snapshotDisk(context: Context, { positionals: [argument], values }: Parsed): Promise<void> {
  const ref = await resolve(context, argument, text(values, "resource-group"), ["disks"]);
  const disk = await getDisk(context, ref);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
  const name = text(values, "name") ?? `${ref.name}-${stamp}`;
  if (!/^[A-Za-z0-9][\w.-]{0,79}$/.test(name)) throw new UsageError(`--name "${name}" is not a valid snapshot name: 1-80 letters, digits, _ . - (a letter or digit first)`);
  const snapshot = await context.compute.snapshots.beginCreateOrUpdateAndWait(
    ref.resourceGroup,
    name,
    { location: disk.location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: ref.id } },
    poll,
  );
  context.io.out(snapshot.id ?? name);
  context.io.err(`took incremental snapshot ${name} of ${ref.name}`);
}

async function listDisks(context: Context, _parsed: Parsed): Promise<void> {
  const disks = (await listAll(context, "disks")) as Disk[];
  const snapshots = (await listAll(context, "snapshots")) as Snapshot[];
  const groupOf = (id: string | undefined) => (id === undefined ? "-" : (refOf(id)?.resourceGroup ?? "-"));
  const nameOf = (id: string | undefined) => (id === undefined ? "-" : (refOf(id)?.name ?? id));
  context.io.out(
    disks.length === 0
      ? "No disks (npx diskdelta-local disk create <name> --size-gib <n>)."
      : table(
          ["DISK", "RESOURCE GROUP", "LOCATION", "SIZE", "STATE", "ID"],
          disks.map((d) => [d.name ?? "-", groupOf(d.id), d.location, formatBytes(sizeOf(d)), d.diskState ?? "-", d.id ?? "-"]),
        ),
  );
  if (snapshots.length === 0) return;
  context.io.out("");
  context.io.out(
    table(
      ["SNAPSHOT", "RESOURCE GROUP", "LOCATION", "OF DISK", "TAKEN", "ID"],
      snapshots
        .sort((a, b) => (a.timeCreated?.getTime() ?? 0) - (b.timeCreated?.getTime() ?? 0))
        .map((s) => [s.name ?? "-", groupOf(s.id), s.location, nameOf(s.creationData?.sourceResourceId), s.timeCreated?.toISOString() ?? "-", s.id ?? "-"]),
    ),
  );
}

/**
 * Reads a disk (its export) or a snapshot through a read SAS, as the engine reads a SourceSnapshot, and prints
 * sparseDigest's digest of the disk bytes alone: the VHD footer differs between a disk and a copy of it, the data
 * does not. The SAS is revoked afterwards and never printed.
 */
async function hashResource(context: Context, { positionals: [argument], values }: Parsed): Promise<void> {
  const ref = await resolve(context, argument, text(values, "resource-group"), ["disks", "snapshots"]);
  const { compute } = context;
  const operations = ref.kind === "disks" ? compute.disks : compute.snapshots;
  let resource: Disk | Snapshot;
  try {
    resource = await operations.get(ref.resourceGroup, ref.name);
  } catch (error) {
    if (statusOf(error) === 404) throw new UsageError(`${ref.kind === "disks" ? "disk" : "snapshot"} ${ref.id} not found on the local stack`);
    throw error;
  }
  let sas: string | undefined;
  try {
    sas = (await operations.beginGrantAccessAndWait(ref.resourceGroup, ref.name, { access: "Read", durationInSeconds: grantSeconds }, poll)).accessSAS;
  } catch (error) {
    const hint = ref.kind === "disks" ? ": a disk attached to a VM, or being uploaded, cannot be read; snapshot it (disk snapshot) and hash the snapshot" : "";
    throw new Error(`cannot read ${ref.name} (${firstLine(error)})${hint}`);
  }
  try {
    if (sas === undefined) throw new Error(`ARM granted read access to ${ref.name} without an accessSAS`);
    const reader = createSourceSnapshotReader();
    const url = sas;
    const digest = await sparseDigest({ sizeBytes: sizeOf(resource), allocated: (w) => reader.allocated(url, w), read: (r) => reader.read(url, r) });
    context.io.out(`${digest.digest}  ${ref.id}`);
    context.io.err(`${formatBytes(digest.sizeBytes)}, ${digest.blocks.size} non-zero 4 MiB blocks, ${formatBytes(digest.bytesRead)} read`);
  } finally {
    await operations.beginRevokeAccessAndWait(ref.resourceGroup, ref.name, poll).catch(() => undefined);
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
