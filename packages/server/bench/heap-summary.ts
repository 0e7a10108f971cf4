// What holds a V8 heap: a .heapsnapshot summarized by constructor (self sizes and counts), the way the DevTools
// "Summary" view groups it, without its retained sizes (a dominator tree is more than a benchmark needs).
interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(snap: HeapSnapshot, top = 25): string {
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const stride = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + iType]!]!;
    const size = snap.nodes[i + iSize]!;
    total += size;
    // Objects by constructor; everything else (strings, code, closures, arrays' backing stores…) by its kind.
    const name = type === 'object' || type === 'native' ? snap.strings[snap.nodes[i + iName]!]! : `(${type})`;
    const g = groups.get(name) ?? { size: 0, count: 0 };
    g.size += size;
    g.count += 1;
    groups.set(name, g);
  }
  const mb = (b: number) => (b / 1024 / 1024).toFixed(2).padStart(7);
  const rows = [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top);
  return [`heap: ${mb(total)} MB in ${snap.nodes.length / stride} objects; by constructor (self size):`, ...rows.map(([k, g]) => `  ${mb(g.size)} MB  ${String(g.count).padStart(8)}  ${k.slice(0, 90)}`)].join('\n');
}
