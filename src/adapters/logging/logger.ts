import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs on stdout; secrets in headers never reach them because only ids and outcomes are logged. */
export const createLogger = (level: string): Logger => pino({ level, base: { service: 'task-dispatcher' } });
