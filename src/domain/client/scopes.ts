/** What an API key may do. A client gets `enqueue` and `read` unless told otherwise. */
export const SCOPES = ['enqueue', 'read', 'audit', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const DEFAULT_SCOPES: readonly Scope[] = ['enqueue', 'read'];

export const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

/** The stored form (`enqueue,read`) back to scopes; a name this build does not know grants nothing. */
export const parseStoredScopes = (stored: string): Set<Scope> => new Set(stored.split(',').filter(isScope));

export const storedScopes = (scopes: Iterable<Scope>): string => SCOPES.filter((s) => new Set(scopes).has(s)).join(',');

/** Everything a /v1 route can do, one name per kind of access. */
export const ACTIONS = [
  'enqueue',
  'cancelTask',
  'readTask',
  'listTasks',
  'clientStats',
  'readQueues',
  'controlQueues',
] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * Which scopes allow an action on the key's own client's tasks, and which on any client's. Audit reads any
 * task and its history and nothing else; admin does everything under /v1.
 */
export const ACCESS_RULES = {
  enqueue: { own: ['enqueue'], any: ['admin'] },
  cancelTask: { own: ['enqueue'], any: ['admin'] },
  readTask: { own: ['read'], any: ['audit', 'admin'] },
  listTasks: { own: ['read'], any: ['admin'] },
  clientStats: { own: ['read'], any: ['admin'] },
  readQueues: { own: [], any: ['admin'] },
  controlQueues: { own: [], any: ['admin'] },
} as const satisfies Record<Action, { own: readonly Scope[]; any: readonly Scope[] }>;

/** `own`: only the key's client's tasks; `any`: every client's; `none`: refused. */
export type Access = 'none' | 'own' | 'any';

export const accessFor = (scopes: ReadonlySet<Scope>, action: Action): Access => {
  const rule = ACCESS_RULES[action];
  if (rule.any.some((s) => scopes.has(s))) return 'any';
  if (rule.own.some((s) => scopes.has(s))) return 'own';
  return 'none';
};

/** The scopes that would allow `action` at all, for the 403 message. */
export const scopesAllowing = (action: Action): Scope[] => {
  const rule = ACCESS_RULES[action];
  return SCOPES.filter((s) => (rule.own as readonly Scope[]).includes(s) || (rule.any as readonly Scope[]).includes(s));
};
