/**
 * Preloaded (node --require) into the Azurite child process: ends Azurite when the process that started it
 * goes away, even if that process was killed without a chance to clean up.
 */
process.on("disconnect", () => process.exit(0));
// The IPC channel alone must not keep Azurite alive once its servers have closed.
process.channel?.unref();
