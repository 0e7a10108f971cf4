// In-process notifications between the worker and live streams (WebSocket log followers, deployment log tails).
// Created in the entry point and passed in Deps, never a module singleton.
import { EventEmitter } from 'node:events';

export interface DeploymentLogEvent {
  deploymentId: string;
  id: number;
  at: string;
  stream: string;
  text: string;
}

export interface EventMap {
  'deployment-log': [DeploymentLogEvent];
  'deployment-status': [{ deploymentId: string; appId: string; status: string }];
  /** The app's traffic now goes to this deployment's containers (or, for `stopped`, to none). */
  'app-switched': [{ appId: string; deploymentId: string | null }];
}

export class AppEvents extends EventEmitter<EventMap> {
  constructor() {
    super();
    // Every open log stream listens; the count is bounded by connections, not a leak.
    this.setMaxListeners(0);
  }
}
