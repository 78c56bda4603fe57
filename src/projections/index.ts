import type { Projection } from './projection.ts';
import { taskIndex } from './task-index.ts';
import { usage } from './usage.ts';

/** Every projection the projectors keep up to date, by name. */
export const PROJECTIONS: readonly Projection[] = [taskIndex, usage];
export const PROJECTION_NAMES = PROJECTIONS.map((p) => p.name);
