import { describe, expect, it } from 'vitest';
import { engineEventFilters, engineSince, normaliseEngineEvent, parseEngineEventLine } from './engineEvents.js';
import { SPEC_LABEL } from './containerSpecLabel.js';

// Shapes as dockerd 20.10 sends them (recorded from the engine on this machine).
const attrs = { 'cloud.cynchro.managed': 'true', 'cloud.cynchro.app-id': 'a1', [SPEC_LABEL]: '{"port":8080}', image: 'bb:1', name: 'web' };
const raw = (Action: string, extra: Record<string, string> = {}) => ({
  status: Action,
  id: 'c0ffee',
  from: 'bb:1',
  Type: 'container',
  Action,
  Actor: { ID: 'c0ffee', Attributes: { ...attrs, ...extra } },
  scope: 'local',
  time: 1796193439,
  timeNano: 1796193439746036729,
});

describe('normaliseEngineEvent', () => {
  it('keeps the container actions we follow, with labels (no spec label, no engine attributes), time in ms', () => {
    expect(normaliseEngineEvent(raw('die', { exitCode: '3' }))).toEqual({
      action: 'die',
      containerId: 'c0ffee',
      name: 'web',
      labels: { 'cloud.cynchro.managed': 'true', 'cloud.cynchro.app-id': 'a1' },
      time: 1796193439746,
      exitCode: 3,
    });
    expect(normaliseEngineEvent(raw('kill', { signal: '9' }))).toMatchObject({ action: 'kill', signal: 9 });
    expect(normaliseEngineEvent(raw('health_status: unhealthy'))).toMatchObject({ action: 'health', health: 'unhealthy' });
    for (const a of ['create', 'start', 'stop', 'destroy', 'oom', 'restart'])
      expect(normaliseEngineEvent(raw(a))).toMatchObject({ action: a, containerId: 'c0ffee' });
  });

  it('drops other actions and other object types', () => {
    for (const a of ['exec_create: touch /crash', 'exec_start: touch /crash', 'exec_die', 'attach', 'resize', 'top', 'rename', 'pause'])
      expect(normaliseEngineEvent(raw(a))).toBeNull();
    expect(normaliseEngineEvent({ ...raw('create'), Type: 'network' })).toBeNull();
    expect(normaliseEngineEvent(null)).toBeNull();
    expect(parseEngineEventLine('{"Type":"container","Action":"start"')).toBeNull(); // cut short: skipped
    expect(parseEngineEventLine('   ')).toBeNull();
  });
});

describe('engine query', () => {
  it('always filters on the managed label, true unless told otherwise', () => {
    expect(engineEventFilters()).toEqual({
      type: ['container'],
      label: ['cloud.cynchro.managed=true'],
      event: ['create', 'start', 'die', 'kill', 'stop', 'destroy', 'oom', 'restart', 'health_status'],
    });
    expect(engineEventFilters({ 'cloud.cynchro.org-id': 'o1' }).label).toEqual(['cloud.cynchro.managed=true', 'cloud.cynchro.org-id=o1']);
    expect(engineEventFilters({ 'cloud.cynchro.managed': 'driver-test' }).label).toEqual(['cloud.cynchro.managed=driver-test']);
  });

  it('passes since as seconds with milliseconds', () => {
    expect(engineSince(1796193439746)).toBe('1796193439.746');
    expect(engineSince(1796193439005)).toBe('1796193439.005');
    expect(() => engineSince(Number.NaN)).toThrow(/not a time/);
  });
});
