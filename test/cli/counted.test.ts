import { describe, expect, it } from 'vitest';
import { counted } from '../../src/cli/counted.js';

describe('counted', () => {
  it('says one in the singular and any other count in the plural', () => {
    expect([counted(1, 'task'), counted(0, 'task'), counted(10000, 'task'), counted(3, 'pid namespace')]).toEqual(['1 task', '0 tasks', '10000 tasks', '3 pid namespaces']);
  });
});
