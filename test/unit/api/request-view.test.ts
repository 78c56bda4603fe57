import { expect, test } from 'vitest';
import { requestView } from '../../../src/api/views.ts';
import { SECRET_MASK } from '../../../src/domain/task/secrets.ts';

test('the request view shows the target without its body, secret header values masked', () => {
  const view = requestView({
    url: 'https://example.com/hook',
    method: 'PUT',
    headers: { Authorization: 'Bearer plant-view-1', 'X-Hook-Secret': 'plant-view-2', Accept: 'text/plain' },
    body: '{"card":"plant-view-3"}',
  });
  expect(view).toStrictEqual({
    url: 'https://example.com/hook',
    method: 'PUT',
    headers: { Authorization: SECRET_MASK, 'X-Hook-Secret': SECRET_MASK, Accept: 'text/plain' },
  });
  expect(JSON.stringify(view)).not.toContain('plant-view');
});
