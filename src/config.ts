/**
 * App settings, validated once at start-up with every problem reported together. The same keys are listed in
 * local.settings.sample.json and set in infra/ (a test keeps the three in step).
 */
import { z } from "zod";
import { redact } from "./domain/errors";
import { diffWindowLimits } from "./domain/limits";
import { premiumPageBlobSnapshots } from "./domain/page-blob-tiers";
import { GiB, MiB } from "./domain/ranges";
import { scheduleProblem } from "./domain/schedule";

/** The timer takes what a Functions timer trigger takes: a six-field NCRONTAB, not a disk's "every 4h". */
function timerScheduleProblem(schedule: string): string | undefined {
  if (/^\s*every\b/i.test(schedule)) return 'must be a six-field NCRONTAB expression such as "0 */5 * * * *" (the "every <n>m|h|d" form is for disk schedules)';
  return scheduleProblem(schedule);
}

const intSetting = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** Every app setting diskdelta reads, with its default. */
export const settingsSchema = z.object({
  /** App storage for the host and for diskdelta's tables and queues: a connection string, or absent with identity-based settings. */
  AzureWebJobsStorage: z.string().optional(),
  /** Identity-based app storage: the account name (https://<name>.table/queue.core.windows.net). */
  AzureWebJobsStorage__accountName: z.string().optional(),
  /** Client id of the user-assigned managed identity; DefaultAzureCredential reads it as AZURE_CLIENT_ID too. */
  AZURE_CLIENT_ID: z.string().optional(),
  /** Azure Resource Manager endpoint. */
  DISKDELTA_ARM_ENDPOINT: z.url({ protocol: /^https$/ }).default("https://management.azure.com"),
  /** NCRONTAB of the timer that looks for due disks (each disk has its own schedule). */
  DISKDELTA_TIMER_SCHEDULE: z.string().default("0 */5 * * * *").superRefine((schedule, ctx) => {
    const problem = timerScheduleProblem(schedule);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  /** How long a read SAS on a SourceSnapshot lives; it is re-granted when it runs out mid-run. */
  DISKDELTA_SAS_DURATION_SECONDS: intSetting(3600, 300, 86_400),
  /** Content bytes one CopyStep may copy before it hands over to the next queue message. */
  DISKDELTA_STEP_MAX_BYTES: intSetting(4 * GiB, 4 * MiB, 64 * GiB),
  /** Page requests one CopyStep may issue. */
  DISKDELTA_STEP_MAX_REQUESTS: intSetting(8192, 16, 100_000),
  /** Seconds after which a CopyStep stops planning new windows (the function timeout is 10 minutes). */
  DISKDELTA_STEP_MAX_SECONDS: intSetting(240, 5, 540),
  /** Least seconds between two progress writes of a CopyStep (bytes copied within the step) or a verification; 0 writes after every page request. */
  DISKDELTA_PROGRESS_SECONDS: intSetting(5, 0, 60),
  /** Size of the first diff window, a whole number of MiB; it adapts to how fragmented the disk is. */
  DISKDELTA_DIFF_WINDOW_BYTES: intSetting(1 * GiB, diffWindowLimits.min, diffWindowLimits.max).refine((bytes) => bytes % MiB === 0, "must be a whole number of MiB (windows must end on page boundaries)"),
  /** Page requests in flight per CopyStep. */
  DISKDELTA_COPY_CONCURRENCY: intSetting(8, 1, 64),
  /** Page-write bytes per second a CopyStep sends to one TargetBlob (a standard page blob's target: 60 MiB/s); 0 = unpaced. */
  DISKDELTA_TARGET_BLOB_MIB_PER_SECOND: intSetting(60, 0, 100_000),
  /** Page writes per second a CopyStep sends to one TargetBlob (a standard page blob's target: 500/s); 0 = unpaced. */
  DISKDELTA_TARGET_BLOB_REQUESTS_PER_SECOND: intSetting(500, 0, 1_000_000),
  /**
   * What one write transaction costs, in bytes of cross-region transfer at your prices: gaps of unchanged pages up to
   * this (and up to the TargetBlob's bytes per request) are carried along to save requests; 0 never merges.
   */
  DISKDELTA_TRANSACTION_COST_BYTES: intSetting(0, 0, 4 * MiB),
  /**
   * How long prepare waits for a SourceSnapshot's background copy (`completionPercent` < 100: Premium SSD v2, Ultra,
   * CopyStart) before the run fails with HydrationTimeout.
   */
  DISKDELTA_HYDRATION_TIMEOUT_MINUTES: intSetting(1440, 1, 10_080),
  /**
   * Seconds a premium page blob TargetBlob needs between two of its snapshots (Azure documents ten minutes): a run whose
   * snapshot is refused for the rate waits in `finalizing` until this long after the blob's newest snapshot.
   */
  DISKDELTA_PREMIUM_SNAPSHOT_INTERVAL_SECONDS: intSetting(premiumPageBlobSnapshots.intervalSeconds, 0, 3600),
  /** Managed copies (replication `managed`): seconds between looks at a copy's completionPercent (and at a full slot table). */
  DISKDELTA_MANAGED_COPY_CHECK_SECONDS: intSetting(60, 1, 3600),
  /** Managed copies in flight at once per subscription and target region, fleet-wide: Azure allows 100. */
  DISKDELTA_MANAGED_COPIES_PER_REGION: intSetting(100, 1, 100),
  /** How long a managed run waits for its copy (from CopyStart) before it fails with ManagedCopyTimeout. */
  DISKDELTA_MANAGED_COPY_TIMEOUT_MINUTES: intSetting(2880, 1, 20_160),
  /** Max BackupRuns the timer starts in one tick (compute throttling and the 5-SAS-per-family limit). */
  DISKDELTA_MAX_RUNS_PER_TICK: intSetting(50, 1, 1000),
  /** Local development only: path of the local stack's stack.json (emulated ARM, local credentials). Never set in Azure. */
  DISKDELTA_LOCAL_STACK_FILE: z.string().optional(),
});

export type Settings = z.output<typeof settingsSchema>;

/** The setting keys, for the drift test against local.settings.sample.json and infra/. */
export const settingKeys = Object.keys(settingsSchema.shape) as (keyof Settings)[];

/**
 * App settings that cannot be used. Every problem names its setting and says what is wrong, and the message holds
 * them all on its first line, because logs and HTTP answers keep only an error's first line. Values never appear
 * (a connection string carries a key); the text is redacted all the same.
 */
export class SettingsError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const redacted = problems.map(redact);
    super(`diskdelta: invalid app settings: ${redacted.join("; ")}`);
    this.name = "SettingsError";
    this.problems = redacted;
  }
}

/**
 * A setting whose value names something that cannot be used (a file that is not what it should be): one problem per
 * thing wrong with it, each naming the setting, so that none is lost to a first-line-only log or answer.
 */
export function settingError(setting: keyof Settings, what: string, error: unknown): SettingsError {
  const issues = error instanceof z.ZodError ? error.issues.map((issue) => `${issue.path.join(".") || "(file)"}: ${issue.message}`) : [error instanceof Error ? error.message : String(error)];
  return new SettingsError(issues.map((issue) => `${setting}: ${what}: ${issue.replace(/\s*\n\s*/g, " ")}`));
}

/** Parses app settings; throws one SettingsError naming every bad setting. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const result = settingsSchema.safeParse(env);
  const problems = result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  if (!env.AzureWebJobsStorage && !env.AzureWebJobsStorage__accountName) problems.push("AzureWebJobsStorage: set a connection string or AzureWebJobsStorage__accountName");
  if (!result.success || problems.length > 0) throw new SettingsError(problems);
  return result.data;
}
