// The two properties of live streams that need no engine: a slow client is bounded, idle clients get heartbeats
// and dead ones are dropped.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { until as waitUntil } from '../../../test/wait.js';
import { heartbeat, MAX_BUFFERED, parseSince, Sender } from './log-stream.routes.js';

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  pings = 0;
  terminated = false;
  send(data: string) {
    this.sent.push(data);
    this.bufferedAmount += data.length;
  }
  ping() {
    this.pings++;
  }
  terminate() {
    this.terminated = true;
  }
}

describe('Sender', () => {
  it('drops (and counts) what a slow client cannot take instead of buffering without bound, then says so', () => {
    const ws = new FakeSocket();
    const sender = new Sender(ws as unknown as WebSocket);
    const line = { type: 'log', text: 'x'.repeat(1000) };
    for (let i = 0; i < 5000; i++) sender.send(line);
    // Buffered bytes stop growing at the bound (plus at most one message).
    expect(ws.bufferedAmount).toBeLessThanOrEqual(MAX_BUFFERED + 2000);
    expect(sender.dropped).toBeGreaterThan(3000);
    const dropped = sender.dropped;
    ws.bufferedAmount = 0; // the client caught up
    sender.send({ type: 'log', text: 'after' });
    expect(JSON.parse(ws.sent.at(-2)!)).toEqual({ type: 'dropped', count: dropped });
    expect(JSON.parse(ws.sent.at(-1)!)).toEqual({ type: 'log', text: 'after' });
  });

  it('sends nothing on a closed socket', () => {
    const ws = new FakeSocket();
    ws.readyState = 3;
    new Sender(ws as unknown as WebSocket).send({ type: 'log' });
    expect(ws.sent).toEqual([]);
  });
});

const until = (fn: () => boolean, ms = 5000) => waitUntil('the condition', fn, { timeoutMs: ms, everyMs: 5 });

describe('heartbeat', () => {
  it('pings and sends a JSON heartbeat each interval; terminates a client that stopped answering pings', async () => {
    const ws = new FakeSocket();
    const sender = new Sender(ws as unknown as WebSocket);
    const stop = heartbeat(ws as unknown as WebSocket, sender, { now: () => new Date() }, 20);
    await until(() => ws.terminated); // no pong ever comes back
    stop();
    expect(ws.pings).toBeGreaterThanOrEqual(1);
    expect(ws.sent.some((m) => JSON.parse(m).type === 'heartbeat')).toBe(true);
  });

  it('keeps a client that answers its pings', async () => {
    const alive = new FakeSocket();
    alive.ping = function (this: FakeSocket) {
      this.pings++;
      queueMicrotask(() => this.emit('pong'));
    };
    const stop = heartbeat(alive as unknown as WebSocket, new Sender(alive as unknown as WebSocket), { now: () => new Date() }, 20);
    await until(() => alive.pings >= 3);
    stop();
    expect(alive.terminated).toBe(false);
  });
});

describe('since (resuming a stream)', () => {
  it('takes ISO 8601 or unix seconds, to the second, and refuses anything else', () => {
    expect(parseSince('2026-11-28T06:20:05.987654321Z')).toBe(Date.UTC(2026, 10, 28, 6, 20, 5) / 1000);
    expect(parseSince('1795846805')).toBe(1795846805);
    expect(parseSince('1795846805.9')).toBe(1795846805);
    for (const bad of ['yesterday', '-5', '0', '']) expect(parseSince(bad)).toBeNull();
  });
});
