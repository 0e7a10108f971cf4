import { describe, expect, it } from 'vitest';
import { interleaveByOrg } from './deployment-worker.js';

describe('interleaveByOrg (the worker picks jobs by it)', () => {
  it('alternates orgs, oldest first within each', async () => {
    const rows = ['a1', 'a2', 'a3', 'b1', 'c1', 'b2'].map((id) => ({ id, org_id: id[0]! }));
    expect(interleaveByOrg(rows).map((r) => r.id)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });
});
