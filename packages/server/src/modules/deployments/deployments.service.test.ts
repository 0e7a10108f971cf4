// The deployment log's bounds, against a real SQLite file: a tenant's build output cannot grow it without limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../db/open-database.js';
import { AppEvents } from '../../lib/app-events.js';
import { systemClock } from '../../lib/clock.js';
import { capLine, DeploymentsService, MAX_LOG_LINE_CHARS, MAX_TENANT_LINES } from './deployments.service.js';

let db: Db;
let svc: DeploymentsService;
const events = new AppEvents();

beforeAll(async () => {
  db = await openDatabase(fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-deployments-')));
  svc = new DeploymentsService({ db, clock: systemClock, events, log: pino({ level: 'silent' }) });
  const now = new Date().toISOString();
  await db.insertInto('orgs').values({ id: 'org_1', name: 'o', created_at: now }).execute();
  await db.insertInto('apps').values({ id: 'app_1', org_id: 'org_1', name: 'a', kind: 'image', spec: '{}', domain: 'a.test', status: 'deploying', status_reason: null, desired_state: 'running', health_failed: 0, health_reason: null, current_deployment_id: null, webhook_secret: null, created_at: now, updated_at: now }).execute();
  await svc.enqueue((_tx, queue) => queue(svc.newRow({ id: 'app_1', org_id: 'org_1', spec: '{}' }, 'dep_1', 'api')));
});
afterAll(async () => {
  await db.destroy();
});

describe('deployment log bounds', () => {
  it('cuts a long line with a marker', () => {
    expect(capLine('x'.repeat(10))).toBe('x'.repeat(10));
    const cut = capLine('y'.repeat(MAX_LOG_LINE_CHARS + 500));
    expect(cut.length).toBeLessThan(MAX_LOG_LINE_CHARS + 50);
    expect(cut).toMatch(/… \[500 characters cut\]$/);
  });

  it('keeps at most MAX_TENANT_LINES of build output, then says how many were dropped; its own lines always go in', async () => {
    for (let i = 0; i < MAX_TENANT_LINES + 25; i++) await svc.log('dep_1', 'build', `step ${i}`);
    await svc.log('dep_1', 'system', 'built');
    await svc.finish({ id: 'dep_1', app_id: 'app_1' }, 'failed', 'boom');
    const rows = await db.selectFrom('deployment_logs').select(['stream', 'text']).where('deployment_id', '=', 'dep_1').orderBy('id').execute();
    expect(rows.filter((r) => r.stream === 'build')).toHaveLength(MAX_TENANT_LINES);
    expect(rows.at(-2)).toEqual({ stream: 'system', text: 'built' });
    expect(rows.at(-1)!.text).toMatch(/^… 25 lines dropped/);
  });
});
