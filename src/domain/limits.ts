/**
 * The tuning limits and defaults that are not app settings, in one place: what the engine never goes below or above
 * whatever a setting or a service answer says. Settings and their defaults are in src/config.ts.
 */
import { GiB, MiB, TiB } from "./ranges";

/** How far the diff window adapts (CopyStep): never below a useful request, never above what one answer should cover. */
export const diffWindowLimits = { min: 64 * MiB, max: 1024 * GiB } as const;

/** Clear Pages is asked for at most this much at a time. */
export const maxClearBytes = TiB;
