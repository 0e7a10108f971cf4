import { describe, expect, it } from 'vitest';
import { deriveAppStatus } from './deployment-status.js';

const app = (o: Partial<Parameters<typeof deriveAppStatus>[0]> = {}) => ({ desired_state: 'running' as const, current_deployment_id: 'dep_1', health_failed: 0, health_reason: null, ...o });

describe('deriveAppStatus', () => {
  it('is stopped when a stop was the last ask, whatever else is true', () => {
    expect(deriveAppStatus(app({ desired_state: 'stopped', health_failed: 1 }), [{ trigger: 'api' }], undefined).status).toBe('stopped');
  });
  it('is deploying while a first release is on its way, failed with the error when it ended badly', () => {
    expect(deriveAppStatus(app({ current_deployment_id: null }), [{ trigger: 'api' }], undefined)).toEqual({ status: 'deploying', reason: null });
    expect(deriveAppStatus(app({ current_deployment_id: null }), [], { status: 'failed', error: 'pull failed' })).toEqual({ status: 'failed', reason: 'pull failed' });
    expect(deriveAppStatus(app({ current_deployment_id: null }), [], { status: 'canceled', error: null })).toEqual({ status: 'failed', reason: 'the last deployment canceled' });
  });
  it('a pending stop alone does not make a never-deployed app deploying', () => {
    expect(deriveAppStatus(app({ current_deployment_id: null }), [{ trigger: 'stop' }], undefined).status).toBe('failed');
  });
  it('is running while a redeploy of a serving app runs, failed when the runtime says it cannot serve', () => {
    expect(deriveAppStatus(app(), [{ trigger: 'webhook' }], undefined)).toEqual({ status: 'running', reason: null });
    expect(deriveAppStatus(app({ health_failed: 1, health_reason: 'web keeps failing: exited with code 3' }), [], undefined)).toEqual({ status: 'failed', reason: 'web keeps failing: exited with code 3' });
    expect(deriveAppStatus(app({ health_reason: 'web: 2/3 replicas answer' }), [], undefined)).toEqual({ status: 'running', reason: 'web: 2/3 replicas answer' });
  });
});
