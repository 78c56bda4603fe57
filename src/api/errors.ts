import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StorageError } from '../adapters/redis/task-store.ts';
import { DomainError, type DomainErrorCode } from '../domain/task/errors.ts';
import type { FieldError } from '../domain/task/validate.ts';

const statusOf = {
  NotFound: 404,
  AlreadyExists: 409,
  IllegalTransition: 409,
  LeaseLost: 409,
  VersionConflict: 409,
} satisfies Record<DomainErrorCode, number>;

export type ErrorBody = { error: string; message: string; errors?: FieldError[] };

export const invalidRequest = (errors: FieldError[]): ErrorBody => ({
  error: 'invalid_request',
  message: errors.map((e) => `${e.field}: expected ${e.expected}`).join('; '),
  errors,
});

/**
 * One mapping from failures to HTTP: bad input 4xx with a message naming what was wrong, Redis trouble 503
 * (retry later), anything else a bare 500 with the details only in the log.
 */
export const errorHandler = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
  if (err instanceof DomainError) {
    return reply.code(statusOf[err.code]).send({ error: err.code, message: err.message });
  }
  if (err instanceof StorageError) {
    req.log.error({ err }, 'storage unavailable');
    return reply.code(503).header('Retry-After', '1').send({
      error: 'unavailable',
      message: 'the task store did not confirm the write; retry later (on a timeout the task may exist)',
    });
  }
  if (err.validation) {
    return reply.code(400).send(
      invalidRequest(
        err.validation.map((v) => ({
          field:
            v.instancePath.replace(/^\//, '').replaceAll('/', '.') || String(v.params?.missingProperty ?? '(request)'),
          expected: v.message ?? 'a valid value',
        })),
      ),
    );
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const name = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'payload_too_large' : 'bad_request';
    return reply.code(status).send({ error: name, message: err.message });
  }
  req.log.error({ err }, 'request failed');
  return reply.code(500).send({ error: 'internal', message: 'internal error' });
};
