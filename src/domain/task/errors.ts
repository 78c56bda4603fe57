export const DomainErrorCode = {
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  IllegalTransition: 'IllegalTransition',
  LeaseLost: 'LeaseLost',
  VersionConflict: 'VersionConflict',
} as const;
export type DomainErrorCode = keyof typeof DomainErrorCode;

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DomainError';
    this.code = code;
  }
}

export const assertNever = (value: never): never => {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
};
