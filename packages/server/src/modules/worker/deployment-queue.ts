/** What services need from the worker: wake it when a deployment is queued, and cancel one. */
export interface DeploymentQueue {
  kick(): void;
  /** Cancels a queued deployment at once, or aborts a running one (it cleans up, then ends `canceled`). */
  cancel(deploymentId: string): Promise<void>;
}
