/**
 * Attempt latencies are counted in buckets that grow by 25 %: bucket b holds latencies in (1.25^(b-1), 1.25^b]
 * milliseconds, bucket 0 everything up to 1 ms. A percentile is reported as its bucket's upper bound, so it is
 * at most 25 % above the true value; about 70 buckets cover a second to an hour.
 */
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);

export const latencyBucket = (ms: number): number => (ms <= 1 ? 0 : Math.ceil(Math.log(ms) / LOG_GROWTH - 1e-9));
export const bucketUpperMs = (bucket: number): number => Math.round(GROWTH ** bucket);

/** The given percentile (0..1) of a histogram of bucket → count; null when it is empty. */
export const percentile = (histogram: ReadonlyMap<number, number>, p: number): number | null => {
  const buckets = [...histogram].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [bucket, n] of buckets) {
    seen += n;
    if (seen >= rank) return bucketUpperMs(bucket);
  }
  return bucketUpperMs((buckets.at(-1) as [number, number])[0]);
};
