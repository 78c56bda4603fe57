export type Weighted = Readonly<{ name: string; weight: number }>;
export type LeasePlanItem = Readonly<{ name: string; quota: number }>;

/**
 * Orders queues at random, each draw weighted by the queues left (asynq's non-strict priority).
 * `random` yields numbers in [0, 1).
 */
export const weightedOrder = <Q extends Weighted>(queues: readonly Q[], random: () => number): Q[] => {
  const left = queues.filter((q) => q.weight > 0);
  const order: Q[] = [];
  while (left.length > 0) {
    const total = left.reduce((sum, q) => sum + q.weight, 0);
    let point = random() * total;
    let index = left.findIndex((q) => {
      point -= q.weight;
      return point < 0;
    });
    if (index < 0) index = left.length - 1;
    order.push(...left.splice(index, 1));
  }
  return order;
};

/**
 * Shares `slots` between queues in proportion to their weights; the seats that do not divide evenly go to
 * queues in weighted-random order, so with one free slot each queue still gets its share over time.
 * The lease step first takes each queue's quota, then fills what an empty queue left from the others,
 * in the same order: an empty queue never stalls the rest.
 */
export const leasePlan = (slots: number, queues: readonly Weighted[], random: () => number): LeasePlanItem[] => {
  const order = weightedOrder(queues, random);
  const total = order.reduce((sum, q) => sum + q.weight, 0);
  const quotas = order.map((q) => Math.floor((slots * q.weight) / total));
  let left = slots - quotas.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0 && order.length > 0; i = (i + 1) % order.length, left--) {
    quotas[i] = (quotas[i] ?? 0) + 1;
  }
  return order.map((q, i) => ({ name: q.name, quota: quotas[i] ?? 0 }));
};
