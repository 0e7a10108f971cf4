// How the control plane's node process runs: scripts/start.mjs starts it so, and packages/server/bench/memory.bench.ts
// measures it so. A control plane allocates little per request; most of what it held at rest was room V8 and malloc
// kept after the burst of start-up and deploys (figures from `pnpm bench:memory`, compiled server, 28 real apps):
// - --max-semi-space-size=1: the young generation keeps 1 MB semispaces instead of the 16 MB ones start-up grows it
//   to and never gives back (~27 MB of an idle server's RSS);
// - --optimize-for-size: V8's memory-over-speed heuristics (smaller heap growth steps, earlier bytecode flushing;
//   ~10 MB more). Both cost CPU per request (more, shorter scavenges; see bench:api), which a control plane can spare;
// - MALLOC_ARENA_MAX=2: glibc otherwise gives each thread that mallocs (libuv's pool, V8's GC and compiler threads)
//   an arena of its own that stays fragmented (~18 MB with 28 apps). An operator's own value wins.
export const CONTROL_PLANE_NODE_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size'];
export const CONTROL_PLANE_ENV = { MALLOC_ARENA_MAX: '2' };
