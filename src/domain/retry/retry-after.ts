/** Responses whose Retry-After says when to try again: 429 Too Many Requests and 503 Service Unavailable. */
export const THROTTLING_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Longer waits are capped by the queue's max backoff anyway; this only keeps the arithmetic finite. */
const MAX_SECONDS = 10 * 365 * 24 * 3600;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 §5.6.7: the preferred IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

const utc = (year: number, month: string, day: string, h: string, m: string, s: string): number | null => {
  const monthIndex = MONTHS.indexOf(month);
  const [dd, hh, mm, ss] = [Number(day), Number(h), Number(m), Number(s)];
  const at = Date.UTC(year, monthIndex, dd, hh, mm, ss);
  // Date.UTC rolls 31 Feb over into March; such a date is not valid
  const back = new Date(at);
  const valid =
    back.getUTCFullYear() === year && back.getUTCMonth() === monthIndex && back.getUTCDate() === dd && hh < 24;
  return valid && mm < 60 && ss < 61 ? at : null;
};

/** An HTTP-date as ms since the epoch, or null. */
export const parseHttpDate = (text: string, now: number): number | null => {
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[3]), m[2] as string, m[1] as string, m[4] as string, m[5] as string, m[6] as string);
  m = RFC_850.exec(text);
  if (m) {
    // a two-digit year more than 50 years ahead means the most recent past year with those digits (RFC 9110)
    const thisYear = new Date(now).getUTCFullYear();
    let year = 2000 + Number(m[3]) + 100 * Math.floor((thisYear - 2000) / 100);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2] as string, m[1] as string, m[4] as string, m[5] as string, m[6] as string);
  }
  m = ASCTIME.exec(text);
  if (m)
    return utc(Number(m[6]), m[1] as string, (m[2] as string).trim(), m[3] as string, m[4] as string, m[5] as string);
  return null;
};

/**
 * How long a Retry-After value asks to wait at `now`, in ms: delta-seconds (`120`) or an HTTP-date. A date in
 * the past asks for no wait (0). Absent, empty, negative or unreadable values ask for nothing (null).
 */
export const parseRetryAfter = (value: string | undefined, now: number): number | null => {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), MAX_SECONDS) * 1000;
  const at = parseHttpDate(text, now);
  return at === null ? null : Math.min(Math.max(0, at - now), MAX_SECONDS * 1000);
};

/** The wait a response asks for before the next attempt: only 429 and 503 are read; null when none. */
export const retryAfterMs = (status: number, header: string | undefined, now: number): number | null =>
  THROTTLING_STATUSES.has(status) ? parseRetryAfter(header, now) : null;
