/**
 * Makes `JSON.stringify(log.stats())` work: JSON has no bigint, and a Log's indexes never exceed
 * 2^53 - 1 (the Log refuses larger ones), so they serialise as plain numbers. `toJSON` is not
 * enumerable, so spreading or deep-comparing a stats object is unchanged.
 */
import type { LogStats, LogStatsJSON } from './log';

export function statsToJSON(stats: Omit<LogStats, 'toJSON'>): LogStats {
  Object.defineProperty(stats, 'toJSON', { value: toJSON, enumerable: false, writable: true, configurable: true });
  return stats as LogStats;
}

function toJSON(this: Omit<LogStats, 'toJSON'>): LogStatsJSON {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(this)) out[k] = typeof v === 'bigint' ? Number(v) : v;
  return out as LogStatsJSON;
}
