const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2})))?$/i;

/**
 * An RFC 3339 time as ms since epoch, or null. `dateOnly` also accepts a date alone (its UTC midnight). The
 * fields are checked first, as Date.parse would roll 2026-02-30 over to March 2.
 */
export const parseRfc3339 = (value: string, opts: { dateOnly?: boolean } = {}): number | null => {
  const m = TIME.exec(value);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (m[4] === undefined && !opts.dateOnly) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (hour > 23 || minute > 59 || second > 59 || Number(m[7] ?? 0) > 23 || Number(m[8] ?? 0) > 59) return null;
  const ms = Date.parse(m[4] === undefined ? `${value}T00:00:00Z` : value.toUpperCase());
  return Number.isFinite(ms) ? ms : null;
};
