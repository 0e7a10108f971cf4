// Prometheus metrics of one control plane, through prom-client. One registry per server instance, built in the
// composition root (never prom-client's global default registry: tests run several servers in one process). Series
// are fed by the events the owners of state already announce (deployment transitions, builds, reconcile actions,
// the runtime's replica events) and by the HTTP layer's hook; queue depth and the vault's state are read at scrape
// time. Every label is bounded: route patterns, methods, status codes, deployment statuses and triggers, outcomes,
// kinds. Never an app, a deployment, a user or a raw URL.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppEvents, EventMap } from '../../lib/app-events.js';
import { isFinal, NON_FINAL_STATUSES } from '../deployments/deployment-status.js';
import { RECONCILE_ACTIONS } from '../reconcile/reconciler.js';
import type { RuntimeEvent } from '../runtime/app-runtime.js';
import { RequestDurations } from './request-durations.js';

type PendingStatus = (typeof NON_FINAL_STATUSES)[number];

export interface MetricsDeps {
  events: AppEvents;
  /** Deployments not final right now, by status (read at scrape time; a missing status counts 0). */
  pendingDeployments(): Promise<Partial<Record<PendingStatus, number>>>;
  /** Whether the vault is sealed right now (read at scrape time). */
  vaultSealed(): boolean;
}

/** The label of a request that matched no route (unknown paths, refused targets): one value, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

const BUILD_OUTCOMES = ['succeeded', 'failed', 'canceled'] as const;
const CRASH_REASONS = ['exit', 'oom'] as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly httpDuration: RequestDurations;
  private readonly deployments: Counter<'status' | 'trigger'>;
  private readonly deploymentDuration: Histogram<'status' | 'trigger'>;
  private readonly builds: Counter<'outcome'>;
  private readonly buildDuration: Histogram<'outcome'>;
  private readonly reconcileActions: Counter<'kind'>;
  private readonly restarts: Counter;
  private readonly crashes: Counter<'reason'>;

  private readonly onStatus = (e: EventMap['deployment-status'][0]) => {
    if (!isFinal(e.status)) return;
    this.deployments.inc({ status: e.status, trigger: e.trigger });
    const seconds = e.finishedAt ? (Date.parse(e.finishedAt) - Date.parse(e.createdAt)) / 1000 : NaN;
    if (Number.isFinite(seconds)) this.deploymentDuration.observe({ status: e.status, trigger: e.trigger }, Math.max(0, seconds));
  };
  private readonly onBuild = (e: EventMap['build-finished'][0]) => {
    this.builds.inc({ outcome: e.outcome });
    this.buildDuration.observe({ outcome: e.outcome }, e.seconds);
  };
  private readonly onReconcile = (e: EventMap['reconcile-action'][0]) => this.reconcileActions.inc({ kind: e.kind }, e.count);
  private readonly onRuntime = (e: RuntimeEvent) => {
    if (e.type === 'replica-up') this.restarts.inc();
    else if (e.type === 'replica-down' && (e.action === 'die' || e.action === 'oom')) this.crashes.inc({ reason: e.action === 'oom' ? 'oom' : 'exit' });
  };

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    this.httpDuration = new RequestDurations({
      name: 'cynchro_http_request_duration_seconds',
      help: 'API requests by method, route pattern (unmatched for unknown paths) and status code, until the response was sent',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.deployments = new Counter({
      name: 'cynchro_deployments_total',
      help: 'Deployments that reached a final status (succeeded, failed, canceled), by trigger',
      labelNames: ['status', 'trigger'],
      registers,
    });
    this.deploymentDuration = new Histogram({
      name: 'cynchro_deployment_duration_seconds',
      help: 'Time from queued to final status (queue wait, build, start, health checks and switch), by final status and trigger',
      labelNames: ['status', 'trigger'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    });
    this.builds = new Counter({ name: 'cynchro_builds_total', help: 'Image builds from app repositories, by outcome', labelNames: ['outcome'], registers });
    this.buildDuration = new Histogram({
      name: 'cynchro_build_duration_seconds',
      help: 'Duration of image builds (clone and docker build of one service), by outcome',
      labelNames: ['outcome'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200],
      registers,
    });
    this.reconcileActions = new Counter({
      name: 'cynchro_reconcile_actions_total',
      help: 'What the reconciler did to restore desired state, by kind (containers restarted, recreated or removed, apps marked failed or recovered)',
      labelNames: ['kind'],
      registers,
    });
    this.restarts = new Counter({
      name: 'cynchro_container_restarts_total',
      help: "App containers that answered again after a start outside a deployment (the engine's restart policy, the reconciler starting a stopped one, docker restart, the engine coming back)",
      registers,
    });
    this.crashes = new Counter({
      name: 'cynchro_container_crashes_total',
      help: 'App containers that exited by themselves (exit) or were killed for running out of memory (oom)',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'cynchro_deployment_queue_depth',
      help: 'Deployments not final right now, by status (queued, building, deploying)',
      labelNames: ['status'],
      registers,
      async collect() {
        const counts = await deps.pendingDeployments();
        for (const status of NON_FINAL_STATUSES) this.set({ status }, counts[status] ?? 0);
      },
    });
    new Gauge({
      name: 'cynchro_vault_sealed',
      help: 'Whether the vault is sealed (1) or holds its keys (0)',
      registers,
      collect() {
        this.set(deps.vaultSealed() ? 1 : 0);
      },
    });
    // Series of a known, small label set start at 0, so a rate() sees the first increment.
    for (const outcome of BUILD_OUTCOMES) this.builds.inc({ outcome }, 0);
    for (const kind of RECONCILE_ACTIONS) this.reconcileActions.inc({ kind }, 0);
    for (const reason of CRASH_REASONS) this.crashes.inc({ reason }, 0);

    deps.events.on('deployment-status', this.onStatus);
    deps.events.on('build-finished', this.onBuild);
    deps.events.on('reconcile-action', this.onReconcile);
    deps.events.on('runtime', this.onRuntime);
  }

  /** One answered API request: `route` is its pattern (`/apps/:id`) or UNMATCHED_ROUTE, never the raw URL. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe(method, route, statusCode, seconds);
  }

  /** The text exposition (collecting the scrape-time gauges first). */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the events (the registry keeps its last values). */
  close(): void {
    this.deps.events.off('deployment-status', this.onStatus);
    this.deps.events.off('build-finished', this.onBuild);
    this.deps.events.off('reconcile-action', this.onReconcile);
    this.deps.events.off('runtime', this.onRuntime);
  }
}
