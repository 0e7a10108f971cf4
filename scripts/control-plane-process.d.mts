// Types of scripts/control-plane-process.mjs for the TypeScript that imports it (bench/memory.bench.ts).
export declare const CONTROL_PLANE_NODE_FLAGS: string[];
export declare const CONTROL_PLANE_ENV: Record<string, string>;
